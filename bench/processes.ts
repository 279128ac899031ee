/**
 * The parts a benchmark measures, each its own OS process as in production: the simulator
 * (`npm run simulator`), gateway replicas (`npm start`) and redis-server. This process only
 * generates load, so it never shares an event loop with what it measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resident set size now, in bytes (from /proc), or undefined once exited. */
  rssBytes(): number | undefined;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>;
}

function spawnUntil(name: string, command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<{ process: BenchProcess; match: RegExpMatchArray }> {
  const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const handle: BenchProcess = {
    name,
    child,
    rssBytes: () => rssOf(child.pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const onLine = (line: string): void => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      const match = settled ? null : ready.exec(line);
      if (match !== null) {
        settled = true;
        resolve({ process: handle, match });
      }
    };
    // Every line is read (and dropped) to the end, so a process never blocks on a full pipe.
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine);
    child.once('exit', (code, signal) => {
      if (!settled) reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${recent.join('\n')}`));
    });
  });
}

/** Resident set size of a process, from /proc (Linux). */
export function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

export interface SimulatorOptions {
  scenario?: 'demo' | 'empty' | 'scale';
  /** SIMULATOR_ALLOCATIONS: how many allocations the `scale` scenario holds. @default the simulator's (100 000) */
  allocations?: number;
  /** SIMULATOR_CHURN_MS; 0: a still cluster. @default 0 */
  churnMs?: number;
  env?: Record<string, string>;
}

/** `npm run simulator` on an ephemeral port; resolves with its URL once it listens. */
export async function startSimulatorProcess(options: SimulatorOptions = {}): Promise<BenchProcess & { url: string }> {
  const { process: sim, match } = await spawnUntil(
    'simulator',
    process.execPath,
    ['--import', 'tsx', 'src/simulator/main.ts'],
    {
      SIMULATOR_PORT: '0',
      SIMULATOR_SCENARIO: options.scenario ?? 'demo',
      SIMULATOR_CHURN_MS: String(options.churnMs ?? 0),
      ...(options.allocations === undefined ? {} : { SIMULATOR_ALLOCATIONS: String(options.allocations) }),
      ...options.env,
    },
    /listening on (http:\/\/\S+)/,
  );
  return Object.assign(sim, { url: match[1] ?? '' });
}

export interface GatewayOptions {
  nomadAddr: string;
  redisUrl?: string;
  name?: string;
  env?: Record<string, string>;
}

/** The node arguments of `npm start` (package.json's start script from `node` on), so the bench runs the gateway as it runs in production. */
export function npmStartNodeArgs(): string[] {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts?: Record<string, string> };
  const start = manifest.scripts?.['start'] ?? '';
  const at = start.indexOf('node ');
  if (at === -1) throw new Error(`package.json's start script does not run node: ${start}`);
  return start.slice(at + 'node '.length).trim().split(/\s+/);
}

/** `npm start` (production mode) over `nomadAddr` on an ephemeral port; resolves with its URL once ready. */
export async function startGatewayProcess(options: GatewayOptions): Promise<BenchProcess & { url: string }> {
  const { process: gateway, match } = await spawnUntil(
    options.name ?? 'gateway',
    process.execPath,
    npmStartNodeArgs(),
    {
      NODE_ENV: 'production',
      NOMAD_ADDR: options.nomadAddr,
      PORT: '0',
      HOST: '127.0.0.1',
      ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
      ...options.env,
    },
    /ready at (http:\/\/[^/\s"]+)\/graphql/,
  );
  return Object.assign(gateway, { url: match[1] ?? '' });
}

/** `bench/floor-server.ts` in `mode` over the simulator at `upstream`; resolves with its URL once it listens. */
export async function startFloorProcess(mode: 'forward' | 'project', upstream: string): Promise<BenchProcess & { url: string }> {
  const { process: floor, match } = await spawnUntil(
    `floor-${mode}`,
    process.execPath,
    ['--import', 'tsx', 'bench/floor-server.ts'],
    { FLOOR_MODE: mode, FLOOR_UPSTREAM: upstream },
    /floor listening on (http:\/\/\S+)/,
  );
  return Object.assign(floor, { url: match[1] ?? '' });
}

/** `bench/ws-floor-server.ts`: a process that only holds graphql-ws connections; resolves with its URL once it listens. */
export async function startWsFloorProcess(): Promise<BenchProcess & { wsUrl: string }> {
  const { process: floor, match } = await spawnUntil('ws-floor', process.execPath, ['--import', 'tsx', 'bench/ws-floor-server.ts'], {}, /ws floor listening on (ws:\/\/\S+)/);
  return Object.assign(floor, { wsUrl: match[1] ?? '' });
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A throwaway redis-server on a free port, without persistence. */
export async function startRedisProcess(): Promise<BenchProcess & { url: string }> {
  const port = await freePort();
  const { process: redis } = await spawnUntil(
    'redis',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '20000'],
    {},
    /Ready to accept connections/,
  );
  return Object.assign(redis, { url: `redis://127.0.0.1:${port}` });
}
