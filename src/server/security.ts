import { GraphQLError, Kind, type ASTVisitor, type DefinitionNode, type OperationDefinitionNode, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { tokenDigest } from '../watch/watch-key.ts';
import { createRateLimiter } from './rate-limit.ts';

/** What a deployment may lock down; each has a setting (src/config.ts). */
export interface SecurityOptions {
  /** GraphiQL at `/graphql` and the terminal page at `/exec` (`GRAPHIQL`). */
  graphiql: boolean;
  /** Schema introspection (`__schema`, `__type`) (`INTROSPECTION`). */
  introspection: boolean;
  /**
   * Origins allowed by CORS (`CORS_ORIGINS`); undefined: any origin, no credentials; empty: same
   * origin only (the default when `NOMAD_TOKEN` is set, since any page could then act with it).
   */
  corsOrigins: readonly string[] | undefined;
  /** Largest request body, in bytes (`MAX_REQUEST_BYTES`). */
  maxRequestBytes: number;
  /** Mutations per minute per token (`RATE_LIMIT_MUTATIONS_PER_MINUTE`). */
  mutationsPerMinute: number;
  /** New subscriptions (exec sessions included) per minute per token (`RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE`). */
  subscriptionsPerMinute: number;
}

export const DEFAULT_SECURITY: SecurityOptions = {
  graphiql: true,
  introspection: true,
  corsOrigins: undefined,
  maxRequestBytes: 1024 * 1024,
  mutationsPerMinute: 600,
  subscriptionsPerMinute: 600,
};

/** Refuses `__schema` and `__type` (`__typename` stays: clients need it). */
function noIntrospection(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        context.reportError(
          new GraphQLError(`Introspection is turned off on this gateway (${node.name.value})`, {
            nodes: node,
            extensions: { code: ErrorCode.INTROSPECTION_DISABLED },
          }),
        );
      }
    },
  };
}

/** Turns introspection off when the deployment says so. */
export function useIntrospectionSwitch(enabled: boolean): Plugin {
  return enabled ? {} : { onValidate: ({ addValidationRule }) => addValidationRule(noIntrospection) };
}

/**
 * Mutations that only feed an exec session already open (keystrokes, terminal resizes): bounded by
 * the session itself (opening one counts as a new subscription, and sessions per token are
 * limited), and sent by a terminal as fast as a person types or a held key repeats (some 30 a
 * second), so the per-minute mutation allowance meant for Nomad's state changes would cut a
 * session off mid-use.
 */
const SESSION_INPUT_FIELDS = new Set(['execInput', 'execResize']);

/** Whether every root selection of `operation` is a session input field (a fragment counts as not). */
function onlyFeedsSessions(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && SESSION_INPUT_FIELDS.has(selection.name.value));
}

/**
 * Per-token limits on mutations and on new subscriptions, over HTTP, SSE and WebSocket alike (it
 * hooks execution, which every transport goes through). Keyed by a digest of the token; callers
 * without a token share one bucket. Mutations that only feed an open exec session are not counted
 * (see {@link SESSION_INPUT_FIELDS}).
 */
export function useRateLimits(options: Pick<SecurityOptions, 'mutationsPerMinute' | 'subscriptionsPerMinute'>): Plugin<Context> {
  const mutations = createRateLimiter({ perMinute: options.mutationsPerMinute });
  const subscriptions = createRateLimiter({ perMinute: options.subscriptionsPerMinute });
  /** The refusal when `token` has no allowance left for `kind`, as an operation result. */
  const refusal = (kind: 'mutation' | 'subscription', token: string | undefined): { errors: GraphQLError[] } | undefined => {
    const limiter = kind === 'mutation' ? mutations : subscriptions;
    const perMinute = kind === 'mutation' ? options.mutationsPerMinute : options.subscriptionsPerMinute;
    const retryAfterSeconds = limiter.take(tokenDigest(token));
    if (retryAfterSeconds === 0) return undefined;
    const error = gatewayError(ErrorCode.RATE_LIMITED, `Too many ${kind}s: at most ${perMinute} a minute per token; try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    });
    return { errors: [error] };
  };
  // Answered as a result rather than thrown: graphql-ws treats a throw in a subscribe hook as an
  // internal error and closes the whole socket.
  return {
    onExecute: ({ args, setResultAndStopExecution }) => {
      const definitions: readonly DefinitionNode[] = args.document.definitions;
      const operation = definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && (args.operationName == null || d.name?.value === args.operationName));
      if (operation?.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'mutation' || onlyFeedsSessions(operation)) return;
      const refused = refusal('mutation', args.contextValue.token);
      if (refused !== undefined) setResultAndStopExecution(refused);
    },
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const refused = refusal('subscription', args.contextValue.token);
      if (refused !== undefined) setResultAndStopExecution(refused);
    },
  };
}

/** Media types of GraphQL requests: JSON, or a bare document. */
const GRAPHQL_MEDIA_TYPES = /^application\/(json|graphql(-response\+json)?)(\s*;|$)/i;

/**
 * CSRF prevention on HTTP: a browser sends a cross-site POST without a CORS preflight only with
 * a form's media types (urlencoded, multipart, text/plain). GraphQL clients send JSON, so such a
 * POST is refused before it runs (415, CSRF_PREVENTED): it could otherwise carry a mutation made
 * with the gateway's NOMAD_TOKEN from any page a user of the network opens. GET never runs
 * mutations (yoga refuses them), and reads need CORS to be read cross-site.
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST' || GRAPHQL_MEDIA_TYPES.test(request.headers.get('content-type') ?? '')) return;
      const body = JSON.stringify({
        errors: [{ message: 'POST bodies must be application/json (form posts are refused: CSRF prevention)', extensions: { code: ErrorCode.CSRF_PREVENTED } }],
      });
      endResponse(new fetchAPI.Response(body, { status: 415, headers: { 'content-type': 'application/json; charset=utf-8' } }));
    },
  };
}

