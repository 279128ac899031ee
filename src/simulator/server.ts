import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAclStore, type AclStore } from './acl.ts';
import { createSystemClock, type Clock } from './clock.ts';
import { Cluster, ClusterError, type Timing } from './cluster.ts';
import { HttpError, sendError, sendFallthrough } from './http-kit.ts';
import { attachExec } from './exec/attach-exec.ts';
import { createRandom } from './random.ts';
import { EXEC_ENDPOINT, matchRoute } from './router.ts';
import type { RouteContext, Simulation } from './routes/context.ts';
import { applyScenario, startChurn, type ScenarioName } from './scenarios.ts';
import { Store } from './store.ts';
import { createFilterDatumCache } from './views.ts';

export interface SimulatorOptions {
  /** Interface to bind. Exec runs real commands, so keep it on loopback unless you mean it. @default '127.0.0.1' */
  host?: string;
  /** @default 0 (an ephemeral port) */
  port?: number;
  /** Turn ACLs on: requests then need tokens made with `sim.acl.createToken`. @default false */
  acl?: boolean;
  /** With ACLs on, the management token's secret. @default a random UUID */
  managementToken?: string;
  /** Seed for ids and scenario data. @default 1 */
  seed?: number;
  /** Initial data. `empty` has one node and the `default` namespace. @default 'empty' */
  scenario?: ScenarioName;
  /** Background changes every `intervalMs` (the demo's slow churn). @default off */
  churn?: { intervalMs: number };
  timing?: Partial<Timing>;
  clock?: Clock;
  /** Called with errors no route expected; they are answered with a 500. @default console.error */
  onUnexpectedError?: (error: unknown) => void;
  /**
   * Where exec commands run, as `<execWorkRoot>/<allocId>/<task>`.
   * @default a fresh `nomad-sim-exec-*` directory in the OS temp dir, removed by `stop()`
   */
  execWorkRoot?: string;
}

export interface Simulator extends Simulation {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Requests received per endpoint, e.g. `GET /v1/allocations`. */
  requestCount(endpoint: string): number;
  requestCounts(): Record<string, number>;
  resetRequestCounts(): void;
  /** Blocking queries waiting right now. */
  blockingInFlight(): number;
  stop(): Promise<void>;
}

function describeError(error: unknown): { status: number; message: string } | undefined {
  if (error instanceof HttpError || error instanceof ClusterError) return { status: error.status, message: error.message };
  return undefined;
}

function requestSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  req.on('aborted', () => controller.abort());
  return controller.signal;
}

/** Starts the Nomad-compatible simulator over HTTP (and the exec WebSocket) on `host:port`. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const random = createRandom(options.seed ?? 1);
  const store = new Store();
  const cluster = new Cluster({ store, clock: options.clock ?? createSystemClock(), random, timing: options.timing });
  const acl: AclStore = createAclStore({
    enabled: options.acl ?? false,
    newId: () => random.uuid(),
    managementSecret: options.managementToken,
  });
  const sim: Simulation = { store, cluster, acl, random, filterDatum: createFilterDatumCache() };
  applyScenario(cluster, options.scenario ?? 'empty');
  const stopChurn = options.churn === undefined ? () => undefined : startChurn(cluster, options.churn.intervalMs);
  const onUnexpectedError = options.onUnexpectedError ?? ((error: unknown) => console.error('simulator: unexpected error', error));
  const counts = new Map<string, number>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    let match;
    try {
      match = matchRoute(url.pathname);
    } catch {
      sendError(res, 400, 'Invalid path encoding');
      return;
    }
    if (match === 'fallthrough') {
      sendFallthrough(res);
      return;
    }
    if (match === 'resource not found') {
      sendError(res, 404, 'resource not found');
      return;
    }
    counts.set(match.endpoint, (counts.get(match.endpoint) ?? 0) + 1);
    const ctx: RouteContext = { req, res, url, segments: match.segments, sim, signal: requestSignal(req, res) };
    try {
      await match.handler(ctx);
    } catch (error) {
      const known = describeError(error);
      // A client that hung up mid-request is not the simulator's fault.
      if (known === undefined && !ctx.signal.aborted) onUnexpectedError(error);
      sendError(res, known?.status ?? 500, known?.message ?? 'internal simulator error');
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const execWorkRoot = options.execWorkRoot ?? (await mkdtemp(join(tmpdir(), 'nomad-sim-exec-')));
  const exec = attachExec(server, sim, {
    workRoot: execWorkRoot,
    onUpgrade: () => counts.set(EXEC_ENDPOINT, (counts.get(EXEC_ENDPOINT) ?? 0) + 1),
  });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    ...sim,
    url: `http://${host}:${address.port}`,
    port: address.port,
    server,
    requestCount: (endpoint) => counts.get(endpoint) ?? 0,
    requestCounts: () => Object.fromEntries(counts),
    resetRequestCounts: () => counts.clear(),
    blockingInFlight: () => store.waiting,
    stop: async () => {
      stopChurn();
      cluster.dispose();
      await exec.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.execWorkRoot === undefined) await rm(execWorkRoot, { recursive: true, force: true });
    },
  };
}
