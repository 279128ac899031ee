import type { Tracer } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createApp, type App, type AppDeps } from '../../src/app.ts';
import { createContextFactory } from '../../src/context.ts';
import { createNomadClient, type NomadClient } from '../../src/nomad/client.ts';
import type { GatewayMetrics } from '../../src/observability/metrics.ts';
import { upstreamSpans } from '../../src/observability/upstream-spans.ts';
import { schema, subgraphSchema } from '../../src/schema/index.ts';
import { createInProcessBackbone } from '../../src/pubsub/in-process-backbone.ts';
import { createInProcessLeaseStore } from '../../src/pubsub/lease.ts';
import type { WsLimits } from '../../src/server/graphql-ws.ts';
import { createExecBroker, type ExecLimits } from '../../src/exec/broker.ts';
import { createNomadExecTransport } from '../../src/exec/nomad-transport.ts';
import type { ExecTransport } from '../../src/exec/transport.ts';
import { nomadReadiness } from '../../src/server/readiness.ts';
import { DEFAULT_SECURITY, type SecurityOptions } from '../../src/server/security.ts';
import type { TrustedDocuments } from '../../src/server/trusted-documents.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.ts';
import { createWatchHub, type WatchHub, type WatchTiming } from '../../src/watch/watch-hub.ts';

export interface GraphQLResponse {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface GatewayStack {
  sim: Simulator;
  /** Base URL of the gateway, e.g. http://127.0.0.1:43121 */
  url: string;
  /** POSTs one operation to /graphql and returns the parsed body. */
  graphql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
}

export interface GatewayStackOptions {
  simulator?: SimulatorOptions;
  /** The gateway's NOMAD_TOKEN. */
  defaultToken?: string;
  /** Wraps the real Nomad client the gateway gets, e.g. to record its reads (see recording-nomad.ts). */
  wrapNomad?: (nomad: NomadClient) => NomadClient;
  /** Subscriptions the gateway serves at once (its in-process hub's limit). */
  maxSubscriptions?: number;
  /** Overrides of the exec sessions' bounds. */
  execLimits?: Partial<ExecLimits>;
  /** What the deployment locks down. */
  security?: Partial<SecurityOptions>;
  /** The gateway's logger; left out, one that logs nothing. */
  logger?: Logger;
  /** Metrics the gateway records into and serves at /metrics (upstream calls included); left out, none. */
  metrics?: GatewayMetrics;
  /** Spans of operations and of upstream calls, as main.ts makes them with OTLP set; left out, none. */
  tracer?: Tracer;
}

/**
 * Which query engine the gateway suites run against. By default the fast one, with every query
 * compiled at once (so that graphql-jit runs every query of the suites, not only the second
 * run of each); with `GATEWAY_ENGINE=reference` (vitest's `reference-engine` project) yoga's own
 * pipeline and executor (subscription events executed per subscriber), so that every behaviour
 * is proven on both.
 */
export function engineUnderTest(): Required<Pick<AppDeps, 'fastPath' | 'compiledExecution' | 'sharedSubscriptionEvents'>> {
  return process.env['GATEWAY_ENGINE'] === 'reference'
    ? { fastPath: false, compiledExecution: false, sharedSubscriptionEvents: false }
    : { fastPath: true, compiledExecution: { compileAfter: 0 }, sharedSubscriptionEvents: true };
}

/**
 * The gateway wired as `main.ts` wires it, over the given Nomad client, logging nothing; live views
 * run in-process (as without REDIS_URL) unless a hub is given. `stop()` stops the hub it made.
 */
export function createGatewayApp(
  nomad: NomadClient,
  options: {
    defaultToken?: string;
    hub?: WatchHub;
    timing?: Partial<WatchTiming>;
    maxSubscriptions?: number;
    /** Overrides of the WebSocket transport's bounds (WS_LIMITS), e.g. a short keep-alive. */
    wsLimits?: Partial<WsLimits>;
    /** Nomad's exec endpoint; without it, starting an exec session fails. */
    execTransport?: ExecTransport;
    /** Overrides of the exec sessions' bounds (EXEC_LIMITS). */
    execLimits?: Partial<ExecLimits>;
    /** The exec terminal page at /exec; left out, enabled. */
    execPage?: { enabled: boolean };
    /** What the deployment locks down; left out, the defaults. */
    security?: Partial<SecurityOptions>;
    /** Trusted-documents mode. */
    trustedDocuments?: TrustedDocuments;
    /** The gateway's logger; left out, one that logs nothing. */
    logger?: Logger;
    /** Served at /metrics, with the hub's, exec broker's and backbone's gauges; left out, no metrics. */
    metrics?: GatewayMetrics;
    /** Server spans of operations (the Nomad client's `onExchange` makes the client spans). */
    tracer?: Tracer;
    /** The query engine; left out, {@link engineUnderTest}. */
    engine?: Pick<AppDeps, 'fastPath' | 'compiledExecution' | 'sharedSubscriptionEvents'>;
  } = {},
): App {
  const logger = options.logger ?? pino({ level: 'silent' });
  const backbone = createInProcessBackbone();
  const exec = createExecBroker({
    transport: options.execTransport ?? { open: () => Promise.reject(new Error('this test gateway was built without an exec transport')) },
    nomad,
    backbone,
    logger,
    limits: options.execLimits,
  });
  const ownHub =
    options.hub === undefined
      ? createWatchHub({
          nomad,
          backbone,
          leases: createInProcessLeaseStore(),
          replicaId: 'test',
          logger,
          timing: options.timing,
          maxSubscriptions: options.maxSubscriptions,
        })
      : undefined;
  const hub = options.hub ?? ownHub;
  if (hub === undefined) throw new Error('unreachable');
  options.metrics?.observeLive({
    hub,
    exec,
    backbone: {
      kind: 'in-process',
      get connected() {
        return backbone.connected;
      },
    },
  });
  const app = createApp({
    ...(options.engine ?? engineUnderTest()),
    schema,
    subgraphSchema,
    createContext: createContextFactory({ nomad, defaultToken: options.defaultToken, live: hub, exec }),
    readinessChecks: [nomadReadiness(nomad, logger)],
    logger,
    wsLimits: options.wsLimits,
    execPage: options.execPage ?? { enabled: true },
    security: { ...DEFAULT_SECURITY, ...options.security },
    trustedDocuments: options.trustedDocuments,
    metrics: options.metrics,
    tracer: options.tracer,
  });
  return {
    start: (port, host) => app.start(port, host),
    stop: async () => {
      await app.stop();
      await exec.stop();
      await ownHub?.stop();
    },
  };
}

/** Starts a simulator and a gateway over it (both on port 0) and stops them when done. */
export async function startGatewayStack(options: GatewayStackOptions = {}): Promise<GatewayStack & { stop(): Promise<void> }> {
  const sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 }, ...options.simulator });
  const { metrics, tracer } = options;
  const spans = tracer === undefined ? undefined : upstreamSpans(tracer);
  const nomad: NomadClient = createNomadClient({
    address: sim.url,
    onExchange: (exchange) => {
      metrics?.upstreamExchange(exchange);
      spans?.(exchange);
    },
  });
  const app = createGatewayApp(options.wrapNomad?.(nomad) ?? nomad, {
    defaultToken: options.defaultToken,
    maxSubscriptions: options.maxSubscriptions,
    execTransport: createNomadExecTransport({ address: sim.url }),
    execLimits: options.execLimits,
    security: options.security,
    logger: options.logger,
    metrics,
    tracer,
  });
  const { url } = await app.start(0);
  return {
    sim,
    url,
    graphql: async (query, variables, headers = {}) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: response.status, ...body };
    },
    stop: async () => {
      await app.stop();
      await nomad.close();
      await sim.stop();
    },
  };
}

/** `startGatewayStack` for the enclosing describe: started in beforeAll, stopped in afterAll. */
export function useGatewayStack(options: GatewayStackOptions = {}): () => GatewayStack {
  let stack: (GatewayStack & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    stack = await startGatewayStack(options);
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (stack === undefined) throw new Error('gateway stack not started yet');
    return stack;
  };
}
