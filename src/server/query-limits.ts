import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, parse, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../error-codes.ts';

/**
 * Limits on what one operation may ask for, checked before any upstream call. Each link (job,
 * node, next/previous allocation...) can cost an upstream read per row, so an operation's shape
 * must be bounded; page sizes are capped by the connection itself. Introspection (GraphiQL's
 * schema query is deep) is exempt from the depth limit.
 */
export const QUERY_LIMITS = {
  /** Nesting depth: a page with task events and linked allocations' task events fits. */
  maxDepth: 12,
  /** Aliases per operation: enough for a dashboard's side-by-side queries, not for fan-out. */
  maxAliases: 30,
  maxDirectives: 50,
  /** Lexical tokens per document (graphql-js stops parsing beyond it). */
  maxTokens: 5_000,
  /**
   * graphql-armor's structural cost (objects 2, scalars 1, times 1.5 per level of depth): the
   * README's and GraphiQL's queries cost under 1 500, a dashboard selecting every field of a page
   * with its links about 25 000; aliased fan-outs of links on links (two per level, three levels
   * down) cost close to a million.
   */
  maxCost: 100_000,
} as const;

/**
 * graphql-armor throws its rejection out of the validation visitor, which yoga then answers as
 * an uncoded 200; report it as a validation error instead, with its own code.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError): void => {
      context?.reportError(
        new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED } }),
      );
    },
  ],
};

/** The limits as graphql-armor validation rules, and graphql-js's own token cap at parse time. */
export function useQueryLimits(): Plugin {
  const rules = [
    maxDepthRule({ n: QUERY_LIMITS.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...asValidationError }),
    maxAliasesRule({ n: QUERY_LIMITS.maxAliases, ...asValidationError }),
    maxDirectivesRule({ n: QUERY_LIMITS.maxDirectives, ...asValidationError }),
    costLimitRule({ maxCost: QUERY_LIMITS.maxCost, ignoreIntrospection: true, flattenFragments: true, exposeLimits: true, ...asValidationError }),
  ];
  return {
    onParse: ({ setParseFn }) => {
      setParseFn((source, options) => parse(source, { ...options, maxTokens: QUERY_LIMITS.maxTokens }));
    },
    onValidate: ({ addValidationRule }) => {
      for (const rule of rules) addValidationRule(rule);
    },
  };
}
