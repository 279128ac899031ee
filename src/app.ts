import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { ContextFactory } from './context.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import { ErrorCode } from './error-codes.ts';
import type { ReadinessCheck } from './server/readiness.ts';
import { createExecPage, isExecPageRequest } from './server/exec-page.ts';
import { attachGraphqlWs, CLOSE_SERVICE_RESTART, type WsLimits } from './server/graphql-ws.ts';
import { createHttpDrain } from './server/http-drain.ts';
import { createMetricsEndpoint, isMetricsRequest } from './server/metrics-endpoint.ts';
import { createSubgraphYoga, SUBGRAPH_ENDPOINT, SUBGRAPH_WS_LIMITS } from './server/subgraph.ts';
import { DEFAULT_SECURITY, type SecurityOptions } from './server/security.ts';
import type { TrustedDocuments } from './server/trusted-documents.ts';
import { corsOptions, createGatewayYoga } from './server/yoga.ts';
import { createFastPath } from './server/fast-path.ts';

/** Everything the servers need, built by the composition root (`main.ts`, or a test). */
export interface AppDeps {
  /** What `/graphql` serves. */
  schema: GraphQLSchema;
  /** What `/subgraph` serves: the same types as a Federation v2 subgraph. */
  subgraphSchema: GraphQLSchema;
  /** The one context factory every transport uses. */
  createContext: ContextFactory;
  /** What `/readyz` waits for. */
  readinessChecks: readonly ReadinessCheck[];
  logger: Logger;
  /** Overrides of the WebSocket transport's bounds (`WS_LIMITS`); left out, the defaults. */
  wsLimits?: Partial<WsLimits>;
  /** The exec terminal page at `/exec` (`server/exec-page.ts`); left out, enabled. */
  execPage?: { enabled: boolean };
  /** What the deployment locks down; left out, {@link DEFAULT_SECURITY}. GraphiQL off turns the exec page off too. */
  security?: SecurityOptions;
  /** Trusted-documents mode on `/graphql` (HTTP, SSE and WebSocket): only these run. */
  trustedDocuments?: TrustedDocuments;
  /**
   * Prometheus metrics: served at `/metrics` (no auth, like `/healthz`), with GraphQL operations
   * and WebSocket connections recorded into them. Left out, there is no `/metrics` and nothing is recorded.
   */
  metrics?: GatewayMetrics;
  /**
   * OpenTelemetry: a server span per GraphQL operation on `/graphql` and `/subgraph`, over every
   * transport. Left out, no spans (the Nomad client makes the client spans: `observability/tracing.ts`).
   */
  tracer?: Tracer;
  /**
   * Plain JSON queries and mutations on `/graphql` take the fast path (`server/fast-path.ts`);
   * false sends every request through yoga's pipeline. Never used with trusted documents.
   * @default true
   */
  fastPath?: boolean;
  /**
   * Recurring queries on `/graphql` run compiled by graphql-jit (`server/compiled-execution.ts`),
   * once they ran `compileAfter` times on the reference engine; false: the reference engine only. @default { compileAfter: 1 }
   */
  compiledExecution?: { compileAfter: number } | false;
  /**
   * Subscription events on `/graphql` and `/subgraph` are executed once for all the subscribers
   * of this replica that would get the same answer (`server/shared-subscription-events.ts`);
   * false: once per subscriber, by yoga's executor. @default true
   */
  sharedSubscriptionEvents?: boolean;
}

export interface App {
  /** Listens on `port` (0: an ephemeral one) and resolves with where. */
  start(port: number, host?: string): Promise<{ port: number; url: string }>;
  /** Stops accepting, closes open connections, and resolves when the server is closed. */
  stop(): Promise<void>;
}

/** The graceful shutdown's steps before `stop()`, in their order (`main.ts` runs them through `server/shutdown.ts`). */
export interface AppDrain {
  /**
   * First step: `/readyz` answers 503 at once (`/healthz` stays 200), the server stops
   * listening (a new connection is refused), WebSocket upgrades get 503, idle keep-alive
   * connections close, and responses still to come say `Connection: close`. Requests in flight
   * go on. Idempotent.
   */
  drain(): void;
  /**
   * Then: closes every graphql-ws socket with 1012 (service restart), each once its queries and
   * mutations have answered, and cuts every SSE or multipart stream; their clients connect again,
   * to another replica. Resolves once every WebSocket is closed.
   */
  closeStreams(): Promise<void>;
  /** Resolves once no HTTP request is in flight. */
  requestsDone(): Promise<void>;
}

/**
 * Refuses a body larger than `maxBytes` before anything reads it (413, as a GraphQL error with
 * REQUEST_TOO_LARGE), and a POST that does not say its length (411): the length is what makes the
 * bound cheap, and every GraphQL client sends it. True when it answered.
 */
function refuseLargeBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  const length = req.headers['content-length'];
  const refuse = (status: number, message: string): true => {
    const body = JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.REQUEST_TOO_LARGE, maximum: maxBytes } }] });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
    req.resume();
    return true;
  };
  if (length !== undefined) return Number(length) > maxBytes ? refuse(413, `Request body over ${maxBytes} bytes`) : false;
  if (req.method === 'POST' && req.headers['transfer-encoding'] !== undefined) return refuse(411, 'A POST body must say its length (Content-Length)');
  return false;
}

/** Whether a request line's target is the subgraph endpoint (its path, whatever the query string). */
function isSubgraphRequest(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0];
  return path === SUBGRAPH_ENDPOINT;
}

/**
 * Wires the GraphQL endpoints onto one node:http server: `/subgraph` serves the Federation v2
 * subgraph, `/exec` the exec terminal page and its files, `/metrics` the Prometheus metrics
 * (when `deps.metrics` is given), everything else (`/graphql`, health,
 * readiness) the gateway's own yoga; both GraphQL paths
 * also take graphql-ws WebSocket connections (and yoga serves SSE on them).
 * Owns the server, not the clients its context factory uses.
 */
export function createApp(deps: AppDeps): App & AppDrain {
  const yoga = createGatewayYoga(deps);
  const security = deps.security ?? DEFAULT_SECURITY;
  const fastPath = deps.fastPath === false || deps.trustedDocuments !== undefined ? undefined : createFastPath({ yoga, cors: corsOptions(security), logger: deps.logger });
  const execPage = createExecPage({ enabled: (deps.execPage?.enabled ?? true) && security.graphiql, graphqlPath: yoga.graphqlEndpoint });
  const subgraph = createSubgraphYoga({
    schema: deps.subgraphSchema,
    createContext: deps.createContext,
    logger: deps.logger,
    metrics: deps.metrics,
    tracer: deps.tracer,
    sharedSubscriptionEvents: deps.sharedSubscriptionEvents,
  });
  const { metrics } = deps;
  const metricsEndpoint = metrics === undefined ? undefined : createMetricsEndpoint({ registry: metrics.registry, logger: deps.logger });
  const ws = attachGraphqlWs({
    yogaByPath: new Map([
      [yoga.graphqlEndpoint, { yoga, trustedDocuments: deps.trustedDocuments }],
      [SUBGRAPH_ENDPOINT, { yoga: subgraph, limits: SUBGRAPH_WS_LIMITS }],
    ]),
    logger: deps.logger,
    limits: deps.wsLimits,
    connections: metrics === undefined ? undefined : { opened: metrics.wsConnectionOpened, closed: metrics.wsConnectionClosed },
  });
  const http = createHttpDrain();
  let server: Server | undefined;
  return {
    start: async (port, host = '127.0.0.1') => {
      const listening = createServer((req, res) => {
        if (http.admit(req, res)) return;
        if (refuseLargeBody(req, res, security.maxRequestBytes)) return;
        if (isSubgraphRequest(req.url)) void subgraph(req, res);
        else if (isExecPageRequest(req.url)) execPage(req, res);
        else if (metricsEndpoint !== undefined && isMetricsRequest(req.url)) metricsEndpoint(req, res);
        else if (fastPath === undefined || !fastPath(req, res)) void yoga(req, res);
      });
      // WebSocket upgrades (graphql-ws) on the same paths; anything else that asks to upgrade is refused.
      listening.on('upgrade', ws.handleUpgrade);
      server = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, host, () => resolve());
      });
      const address = listening.address() as AddressInfo;
      const shownHost = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
      return { port: address.port, url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}` };
    },
    drain: () => {
      if (http.draining) return;
      http.begin();
      ws.drain();
      server?.close(); // Node closes the idle keep-alive connections with it
    },
    closeStreams: async () => {
      http.cutStreams();
      await ws.closeAll(CLOSE_SERVICE_RESTART, 'Service restart: this gateway replica is shutting down');
    },
    requestsDone: () => http.idle(),
    stop: async () => {
      const current = server;
      server = undefined;
      if (current === undefined) return;
      await ws.stop();
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        current.closeAllConnections();
      });
    },
  };
}
