import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { WsLimits } from './graphql-ws.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { useOperationMetrics } from './operation-metrics.ts';
import { useOperationTraces } from './operation-traces.ts';
import { useQueryLimits } from './query-limits.ts';
import { useRequestLog } from './request-log.ts';
import { useSharedSubscriptionEvents } from './shared-subscription-events.ts';
import { yogaLogger } from './yoga-logging.ts';
import type { Context, ContextFactory } from '../context.ts';
import { callerOf, subscriptionCaller } from './caller.ts';

/** Where a federation router (Apollo Router, Hive Gateway) reaches this service as a subgraph. */
export const SUBGRAPH_ENDPOINT = '/subgraph';

/**
 * WebSocket bounds of `/subgraph`. A router multiplexes every subscription made with one token
 * over one connection, so the per-connection cap of browser connections (100) would cap a whole
 * router replica per token; the replica's own subscription limit bounds them instead.
 */
export const SUBGRAPH_WS_LIMITS: Partial<WsLimits> = { maxOperationsPerConnection: 100_000 };

export interface SubgraphYogaOptions {
  /** The Federation v2 subgraph schema (`_service`, `_entities`, `@key`s). */
  schema: GraphQLSchema;
  /** The same context factory as `/graphql`. */
  createContext: ContextFactory;
  logger: Logger;
  /** Where operations and their error codes are counted; left out, nothing is. */
  metrics?: GatewayMetrics;
  /** Makes a server span per operation, child of the router's trace context; left out, no spans. */
  tracer?: Tracer;
  /** As `/graphql`'s (`yoga.ts`): subscription events executed once per group of equal subscribers. @default true */
  sharedSubscriptionEvents?: boolean;
}

/**
 * The Federation v2 subgraph endpoint, with the same per-request context as `/graphql`. The
 * router must forward the caller's `X-Nomad-Token` (or `Authorization: Bearer`): every upstream
 * call, `_entities` included, is made with it. No GraphiQL: routers speak to it, people use `/graphql`.
 */
export function createSubgraphYoga(options: SubgraphYogaOptions): YogaServerInstance<Record<string, unknown>, Context> {
  const { schema, createContext, logger } = options;
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: SUBGRAPH_ENDPOINT,
    landingPage: false,
    graphiql: false,
    maskedErrors: { isDev: false },
    logging: yogaLogger(logger, 'subgraph: '),
    plugins: [
      useRequestLog({ logger, endpoint: SUBGRAPH_ENDPOINT }),
      ...(options.metrics === undefined ? [] : [useOperationMetrics(options.metrics)]),
      ...(options.tracer === undefined ? [] : [useOperationTraces(options.tracer)]),
      useQueryLimits(),
      ...(options.sharedSubscriptionEvents === false ? [] : [useSharedSubscriptionEvents<Context>({ callerOf: subscriptionCaller })]),
    ],
    context: (initial) => createContext(callerOf(initial)),
  });
}
