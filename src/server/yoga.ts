import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { CORSOptions } from '@whatwg-node/server';
import type { GraphQLSchema } from 'graphql';
import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { useOperationMetrics } from './operation-metrics.ts';
import { useOperationTraces } from './operation-traces.ts';
import { usePersistedQueries } from './persisted-queries.ts';
import { useTrustedDocuments, type TrustedDocuments } from './trusted-documents.ts';
import { useRequestLog } from './request-log.ts';
import { DEFAULT_SECURITY, useCsrfPrevention, useIntrospectionSwitch, useRateLimits, type SecurityOptions } from './security.ts';
import { useQueryLimits } from './query-limits.ts';
import { useCompiledExecution } from './compiled-execution.ts';
import { useSharedSubscriptionEvents } from './shared-subscription-events.ts';
import { allReady, READINESS_ENDPOINT, type ReadinessCheck } from './readiness.ts';
import { yogaLogger } from './yoga-logging.ts';
import type { Context, ContextFactory } from '../context.ts';
import { callerOf, subscriptionCaller } from './caller.ts';

/** What GraphiQL opens with: a first page of allocations across namespaces. */
export const GRAPHIQL_DEFAULT_QUERY = `# Allocations across every namespace your token can read, oldest first.
# Open one with allocation(id: "<id, allocId or 8+ hex prefix>") to see its task events,
# services, job and node; stop, signal or restart it with the mutations.
query Allocations($after: String) {
  allocations(namespace: "*", first: 20, after: $after) {
    edges {
      node {
        id
        allocId
        name
        namespace
        jobId
        clientStatus
        desiredStatus
        nodeName
        taskStates { name state restarts }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

/**
 * yoga's `cors` option for the deployment's allow-list. Tokens travel in headers, never in
 * cookies, so no listed origin gets credentials. An empty list: same origin only (no CORS headers
 * at all). No list: any origin (yoga's default).
 */
export function corsOptions(security: Pick<SecurityOptions, 'corsOrigins'>): CORSOptions | undefined {
  if (security.corsOrigins === undefined) return undefined;
  if (security.corsOrigins.length === 0) return false;
  return { origin: [...security.corsOrigins], credentials: false, methods: ['GET', 'POST'] };
}

export interface GatewayYogaOptions {
  /** The schema `/graphql` serves, built once by the composition root. */
  schema: GraphQLSchema;
  /** Builds each request's context from the caller's token and the request's AbortSignal. */
  createContext: ContextFactory;
  /** What `/readyz` waits for. */
  readinessChecks: readonly ReadinessCheck[];
  logger: Logger;
  /** What the deployment locks down (GraphiQL, introspection, CORS, rate limits). */
  security?: SecurityOptions;
  /** Where operations and their error codes are counted; left out, nothing is. */
  metrics?: GatewayMetrics;
  /** Trusted-documents mode: only these documents run (see trusted-documents.ts). */
  trustedDocuments?: TrustedDocuments;
  /** Makes a server span per operation (`operation-traces.ts`); left out, no spans. */
  tracer?: Tracer;
  /**
   * Recurring queries run compiled by graphql-jit (`compiled-execution.ts`): after how many runs
   * on the reference engine a query is compiled (0: at once), or false for the reference engine only.
   * @default { compileAfter: 1 }
   */
  compiledExecution?: { compileAfter: number } | false;
  /**
   * Subscription events executed once for all the subscribers of this replica that would get the
   * same answer (`shared-subscription-events.ts`); false: once per subscriber, by yoga's executor.
   * @default true
   */
  sharedSubscriptionEvents?: boolean;
}

/** A query graphql-jit cannot compile runs on the reference engine: slower, so worth a line in the log. */
function compileLogger(logger: Logger) {
  return ({ operationName, compiled }: { operationName: string | undefined; compiled: boolean }): void => {
    if (!compiled) logger.warn({ operationName }, 'graphql-jit cannot compile this query; it runs on the reference engine');
  };
}

/**
 * The GraphQL endpoint: parse and validation cached by yoga, a fresh context (and loaders) per
 * request, automatic persisted queries, unexpected errors masked without stack traces.
 */
export function createGatewayYoga(options: GatewayYogaOptions): YogaServerInstance<Record<string, unknown>, Context> {
  const { schema, createContext, readinessChecks, logger } = options;
  const security = options.security ?? DEFAULT_SECURITY;
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    maskedErrors: { isDev: false },
    graphiql: security.graphiql ? { title: 'Nomad GraphQL gateway', defaultQuery: GRAPHIQL_DEFAULT_QUERY } : false,
    cors: corsOptions(security),
    renderGraphiQL,
    logging: yogaLogger(logger),
    context: (initial) => createContext(callerOf(initial)),
    plugins: [
      // First, so that every operation is seen, those refused by the plugins below included.
      useRequestLog({ logger, endpoint: '/graphql' }),
      ...(options.metrics === undefined ? [] : [useOperationMetrics(options.metrics)]),
      ...(options.tracer === undefined ? [] : [useOperationTraces(options.tracer)]),
      // Trusted documents replace automatic persisted queries: nobody may register new ones.
      options.trustedDocuments === undefined ? usePersistedQueries() : useTrustedDocuments(options.trustedDocuments),
      useQueryLimits(),
      useCsrfPrevention(),
      useIntrospectionSwitch(security.introspection),
      useRateLimits(security),
      ...(options.compiledExecution === false ? [] : [useCompiledExecution({ ...options.compiledExecution, onCompile: compileLogger(logger) })]),
      ...(options.sharedSubscriptionEvents === false ? [] : [useSharedSubscriptionEvents<Context>({ callerOf: subscriptionCaller })]),
      // A plain 503 on failure: yoga would otherwise send the error's text to anyone who can
      // reach this unauthenticated endpoint.
      useReadinessCheck({ endpoint: READINESS_ENDPOINT, check: () => allReady(readinessChecks) }),
    ],
  });
}
