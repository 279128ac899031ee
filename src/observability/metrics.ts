/**
 * The gateway's Prometheus metrics, on a registry the composition root creates (never prom-client's
 * global one) and serves at `/metrics`. Parts that record get a `GatewayMetrics` as an optional
 * dependency; nothing here reads a clock, a socket or the environment.
 *
 * Every label value is bounded: routes are endpoint templates (`/v1/allocation/:id`, never a path
 * with ids), statuses are HTTP codes or one of three words, error codes are SCREAMING_SNAKE words
 * from the server (anything else is counted as `OTHER`).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ExecBroker } from '../exec/broker.ts';
import type { NomadExchange } from '../nomad/http.ts';
import type { WatchHub } from '../watch/watch-hub.ts';

/** What kind of operation ran; `unknown` when the request failed before its document was known. */
export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** How one GraphQL operation ended, as the metrics count it. */
export interface OperationRecord {
  type: OperationType;
  /** The `extensions.code` of every error it returned (one entry per error; masked ones are `INTERNAL`). */
  errorCodes: readonly string[];
}

/** Where the live gauges read from at scrape time (`src/live.ts`'s LiveParts has all three). */
export interface LiveSources {
  hub: Pick<WatchHub, 'watches' | 'activeSubscriptions'>;
  exec: Pick<ExecBroker, 'sessionCount'>;
  /** The backbone between replicas: Redis, or this process alone (always connected). */
  backbone: { readonly kind: 'redis' | 'in-process'; readonly connected: boolean };
}

/** Typed recording functions over one registry. */
export interface GatewayMetrics {
  /** What `/metrics` serves. */
  readonly registry: Registry;
  /** One HTTP exchange with Nomad (the transport's `onExchange`). */
  upstreamExchange(event: NomadExchange): void;
  /** One GraphQL operation that ended (a subscription when it ends). */
  graphqlOperation(record: OperationRecord): void;
  /** A WebSocket connection was accepted on `path` (`/graphql` or `/subgraph`). */
  wsConnectionOpened(path: string): void;
  /** A WebSocket connection accepted on `path` closed. */
  wsConnectionClosed(path: string): void;
  /**
   * Reads the subscription, watch, exec and backbone gauges from these at every scrape. A later
   * call replaces the earlier sources; before any call those gauges read 0.
   */
  observeLive(sources: LiveSources): void;
}

export interface GatewayMetricsOptions {
  /** Also register prom-client's process and Node.js metrics (`process_*`, `nodejs_*`). @default true */
  defaultMetrics?: boolean;
}

/** Every family's name, for dashboards and tests. */
export const METRIC = {
  upstreamDuration: 'nomad_gateway_upstream_request_duration_seconds',
  upstreamRequests: 'nomad_gateway_upstream_requests_total',
  operations: 'nomad_gateway_graphql_operations_total',
  errors: 'nomad_gateway_graphql_errors_total',
  subscriptions: 'nomad_gateway_subscriptions_active',
  watchKeys: 'nomad_gateway_watch_keys',
  watchKeysLeading: 'nomad_gateway_watch_keys_leading',
  wsConnections: 'nomad_gateway_websocket_connections',
  execSessions: 'nomad_gateway_exec_sessions',
  backboneConnected: 'nomad_gateway_backbone_connected',
} as const;

/**
 * Upstream latency buckets in seconds: plain reads take milliseconds; blocking queries (labelled
 * `blocking="true"`) are held by Nomad up to their wait (55 s by default, 300 s at most).
 */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** What an error code label may be; anything else (a code no server part sets) is `OTHER`. */
const CODE_LABEL = /^[A-Z][A-Z0-9_]{0,63}$/;

function codeLabel(code: string): string {
  return CODE_LABEL.test(code) ? code : 'OTHER';
}

/** Creates the gateway's metric families on `registry`. Call once per registry. */
export function createGatewayMetrics(registry: Registry, options: GatewayMetricsOptions = {}): GatewayMetrics {
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  let live: LiveSources | undefined;

  const upstreamLabels = ['method', 'route', 'status', 'blocking'] as const;
  const upstreamDuration = new Histogram({
    name: METRIC.upstreamDuration,
    help: 'Latency of HTTP requests to Nomad, by method, route template, status (HTTP status, error, timeout or aborted) and whether it was a blocking query.',
    labelNames: upstreamLabels,
    buckets: UPSTREAM_BUCKETS,
    registers,
  });
  const upstreamRequests = new Counter({
    name: METRIC.upstreamRequests,
    help: 'HTTP requests to Nomad, by method, route template, status (HTTP status, error, timeout or aborted) and whether it was a blocking query.',
    labelNames: upstreamLabels,
    registers,
  });
  const operations = new Counter({
    name: METRIC.operations,
    help: 'GraphQL operations that ended, by type (query, mutation, subscription; unknown when the request failed before its document was known).',
    labelNames: ['type'] as const,
    registers,
  });
  // Every type reads 0 from the start, so a rate over it exists before the first operation.
  for (const type of ['query', 'mutation', 'subscription', 'unknown'] as const) operations.inc({ type }, 0);
  const errors = new Counter({
    name: METRIC.errors,
    help: 'Errors in GraphQL results, by extensions.code (masked unexpected errors are INTERNAL).',
    labelNames: ['code'] as const,
    registers,
  });
  const wsConnections = new Gauge({
    name: METRIC.wsConnections,
    help: 'WebSocket (graphql-ws) connections open, by path.',
    labelNames: ['path'] as const,
    registers,
  });
  new Gauge({
    name: METRIC.subscriptions,
    help: 'Subscriptions this replica serves (the watch hub\'s admitted and not ended), over every transport.',
    registers,
    collect() {
      this.set(live?.hub.activeSubscriptions() ?? 0);
    },
  });
  // Both watch gauges read the same list; each scrape asks for it once per gauge, which is cheap.
  new Gauge({
    name: METRIC.watchKeys,
    help: 'Watch keys (an upstream question and a token digest) with local subscribers.',
    registers,
    collect() {
      this.set(live?.hub.watches().length ?? 0);
    },
  });
  new Gauge({
    name: METRIC.watchKeysLeading,
    help: 'Watch keys whose upstream blocking-query loop this replica runs (holds the lease of).',
    registers,
    collect() {
      this.set(live?.hub.watches().filter((w) => w.leading).length ?? 0);
    },
  });
  new Gauge({
    name: METRIC.execSessions,
    help: 'Exec sessions held by this replica.',
    registers,
    collect() {
      this.set(live?.exec.sessionCount() ?? 0);
    },
  });
  new Gauge({
    name: METRIC.backboneConnected,
    help: 'Whether the backbone between replicas is connected (1) or not (0), by kind (redis, or in-process: always 1).',
    labelNames: ['backbone'] as const,
    registers,
    collect() {
      this.reset();
      if (live !== undefined) this.set({ backbone: live.backbone.kind }, live.backbone.connected ? 1 : 0);
    },
  });

  return {
    registry,
    upstreamExchange: (event) => {
      const labels = { method: event.method, route: event.route, status: String(event.status), blocking: String(event.blocking) };
      upstreamRequests.inc(labels);
      upstreamDuration.observe(labels, event.durationMs / 1000);
    },
    graphqlOperation: (record) => {
      operations.inc({ type: record.type });
      for (const code of record.errorCodes) errors.inc({ code: codeLabel(code) });
    },
    wsConnectionOpened: (path) => wsConnections.inc({ path }),
    wsConnectionClosed: (path) => wsConnections.dec({ path }),
    observeLive: (sources) => {
      live = sources;
    },
  };
}
