/**
 * `npm start`: the composition root and the only reader of the environment. Without NOMAD_ADDR
 * the gateway runs over an embedded simulator with the demo cluster, bound to loopback.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from './app.ts';
import { createContextFactory } from './context.ts';
import { createNomadExecTransport } from './exec/nomad-transport.ts';
import type { ExecTransport } from './exec/transport.ts';
import { createLiveParts, type LiveParts } from './live.ts';
import { ConfigError, helpText, parseConfig, parseFlags, type Config, type TracingConfig } from './config.ts';
import { createNomadClient, type NomadClient } from './nomad/client.ts';
import type { NomadExchange } from './nomad/http.ts';
import { createGatewayMetrics } from './observability/metrics.ts';
import { schema, subgraphSchema } from './schema/index.ts';
import { nomadReadiness } from './server/readiness.ts';
import { parseTrustedDocuments, type TrustedDocuments } from './server/trusted-documents.ts';
import { createShutdown } from './server/shutdown.ts';
import { startSimulator, type Simulator } from './simulator/server.ts';

function loadConfig(): Config {
  const argv = process.argv.slice(2);
  try {
    if (parseFlags(argv).help) {
      process.stdout.write(helpText());
      process.exit(0);
    }
    return parseConfig(process.env, argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`nomad-graphql-gateway: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

async function startOtlpTracing(settings: TracingConfig) {
  const { otlpSpanProcessor, startTracing } = await import('./observability/tracing.ts');
  const { upstreamSpans } = await import('./observability/upstream-spans.ts');
  const started = startTracing({ serviceName: settings.serviceName, serviceVersion: process.env['npm_package_version'], processor: otlpSpanProcessor(settings.tracesUrl) });
  return { ...started, upstreamSpans: upstreamSpans(started.tracer) };
}

function readPem(path: string | undefined, name: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    console.error(`nomad-graphql-gateway: cannot read ${name} (${path}): ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

const config = loadConfig();
const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-nomad-token"]'] });
// The one registry, served at /metrics; prom-client's global default registry is not used.
const metrics = createGatewayMetrics(new Registry());
// OpenTelemetry only when an OTLP endpoint is set: otherwise not even loaded.
const tracing = config.tracing === undefined ? undefined : await startOtlpTracing(config.tracing);
const upstreamSpans = tracing?.upstreamSpans;
/** Every exchange with Nomad: counted, and traced when tracing is on. */
const onExchange = (exchange: NomadExchange): void => {
  metrics.upstreamExchange(exchange);
  upstreamSpans?.(exchange);
};

let simulator: Simulator | undefined;
let nomad: NomadClient;
let execTransport: ExecTransport;
if (config.nomad === undefined) {
  simulator = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    scenario: 'demo',
    churn: { intervalMs: 3_000 },
    timing: { schedulerMs: 500, clientMs: 1_500 },
  });
  nomad = createNomadClient({ address: simulator.url, gzip: false, onExchange });
  execTransport = createNomadExecTransport({ address: simulator.url });
} else {
  const { nomad: upstream } = config;
  const tls = upstream.address.startsWith('https:')
    ? {
        ca: readPem(upstream.caCertPath, 'NOMAD_CACERT'),
        cert: readPem(upstream.clientCertPath, 'NOMAD_CLIENT_CERT'),
        key: readPem(upstream.clientKeyPath, 'NOMAD_CLIENT_KEY'),
        serverName: upstream.tlsServerName,
        insecureSkipVerify: upstream.skipVerify,
      }
    : undefined;
  nomad = createNomadClient({
    address: upstream.address,
    region: upstream.region,
    namespace: upstream.namespace,
    timeoutMs: upstream.timeoutMs,
    gzip: upstream.gzip,
    tls,
    onExchange,
  });
  execTransport = createNomadExecTransport({ address: upstream.address, region: upstream.region, tls });
}

let live: LiveParts;
try {
  live = await createLiveParts({ nomad, execTransport, redis: config.redis, logger, timing: config.watch, maxSubscriptions: config.watch.maxSubscriptions });
} catch (error) {
  console.error(`nomad-graphql-gateway: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
metrics.observeLive(live);
let trustedDocuments: TrustedDocuments | undefined;
if (config.trustedDocumentsPath !== undefined) {
  try {
    trustedDocuments = parseTrustedDocuments(readFileSync(config.trustedDocumentsPath, 'utf8'));
  } catch (error) {
    console.error(`nomad-graphql-gateway: TRUSTED_DOCUMENTS (${config.trustedDocumentsPath}): ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}
const app = createApp({
  schema,
  subgraphSchema,
  createContext: createContextFactory({ nomad, defaultToken: config.defaultToken, live: live.hub, exec: live.exec }),
  readinessChecks: [nomadReadiness(nomad, logger), ...live.readiness],
  logger,
  execPage: { enabled: true },
  security: config.security,
  metrics,
  trustedDocuments,
  tracer: tracing?.tracer,
  fastPath: config.fastPath,
  // GRAPHQL_FAST_PATH=false: the reference engine only; otherwise compiled execution's defaults.
  compiledExecution: config.fastPath ? undefined : false,
  sharedSubscriptionEvents: config.fastPath,
});
const { url } = await app.start(config.port, config.host);
const upstreamText = simulator === undefined ? `Nomad at ${config.nomad?.address}` : `the embedded Nomad simulator at ${simulator.url} (demo cluster)`;
logger.info({ replicaId: live.replicaId, url }, `GraphQL gateway ready at ${url}/graphql over ${upstreamText}${config.redis === undefined ? '' : ', sharing watchers through Redis'}`);
if (config.defaultToken !== undefined) logger.info('NOMAD_TOKEN is set: callers that send no token act with it');

// The order matters; README "Shutdown" says why. A second signal exits at once (130).
const shutdown = createShutdown({
  timeoutMs: config.shutdownTimeoutMs,
  logger,
  exit: (code) => process.exit(code),
  steps: [
    { name: 'stop accepting (readyz 503, listener closed)', run: () => app.drain() },
    { name: 'refuse new subscriptions, release watch leases', run: () => live.drain() },
    { name: 'end exec sessions (SHUTTING_DOWN)', run: () => live.exec.stop() },
    { name: 'close WebSockets (1012) and streams', run: () => app.closeStreams() },
    { name: 'finish requests in flight', run: () => app.requestsDone() },
    { name: 'close the server, Redis and Nomad connections', run: async () => {
      await app.stop();
      await live.close();
      await nomad.close();
      await simulator?.stop();
    } },
    { name: 'export the last spans', run: async () => tracing?.shutdown() },
  ],
});
process.on('SIGINT', () => shutdown.signal('SIGINT'));
process.on('SIGTERM', () => shutdown.signal('SIGTERM'));
