import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { onTestFailed, onTestFinished } from 'vitest';

/**
 * A gateway replica as its own OS process, started the way `npm start` starts it (`tsx
 * src/main.ts`, configured through the environment only), so that a test can kill it for real:
 * SIGKILL leaves its sockets, its Redis lease and its in-flight Nomad request to the OS and the
 * other side, as a crash would.
 */
export interface GatewayProcess {
  /** A label for logs and failure messages, e.g. `replica-a`. */
  readonly name: string;
  /** e.g. `http://127.0.0.1:41234`, from the ready line. */
  readonly url: string;
  /** `ws://…/graphql`, for graphql-ws clients. */
  readonly wsUrl: string;
  /** The replica's lease-owner name, from the ready line (the value of the lease keys it holds). */
  readonly replicaId: string;
  readonly pid: number;
  /** Every line it wrote to stdout or stderr so far, prefixed with the stream. */
  readonly logs: readonly string[];
  /** Whether it has exited. */
  readonly exited: boolean;
  /** Settles once the process has exited, with its exit code (null when a signal ended it) and that signal. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and returns at once (see `exit`). */
  signal(signal: NodeJS.Signals): void;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM (the graceful shutdown of main.ts), SIGKILL after 5 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

export interface GatewayProcessOptions {
  /** NOMAD_ADDR: the simulator's URL, or a TCP proxy in front of it. */
  nomadAddr: string;
  /** REDIS_URL; left out, the replica shares nothing (live views in-process). */
  redisUrl?: string;
  name: string;
  /** WATCH_LEASE_TTL_MS. @default 1500 */
  leaseTtlMs?: number;
  /** WATCH_WAIT_MS. @default 5000 */
  waitMs?: number;
  /** Further environment variables (LOG_LEVEL, REDIS_PREFIX...). */
  env?: Record<string, string>;
  /** How long to wait for the ready line. @default 20000 */
  readyTimeoutMs?: number;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitForExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  await once(child, 'exit');
}

/** The ready line main.ts logs: `{"replicaId":"…","url":"http://…","msg":"GraphQL gateway ready at …"}`. */
function readyLine(line: string): { url: string; replicaId: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { url, replicaId } = parsed as Record<string, unknown>;
  return typeof url === 'string' && typeof replicaId === 'string' ? { url, replicaId } : undefined;
}

/**
 * Spawns `node --import tsx src/main.ts` with the given Nomad and Redis, on an ephemeral port of
 * 127.0.0.1, and resolves once it logged its ready line. Call it inside a test: the process is
 * stopped when the test finishes (pass or fail), its logs are printed when the test fails, and it
 * is SIGKILLed if the test worker itself exits first.
 */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const { name } = options;
  const env: Record<string, string> = {
    // Only what the gateway needs: nothing from the test's own environment (NOMAD_TOKEN...) leaks in.
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    ...(process.env['HOME'] === undefined ? {} : { HOME: process.env['HOME'] }),
    ...(process.env['TMPDIR'] === undefined ? {} : { TMPDIR: process.env['TMPDIR'] }),
    NODE_ENV: 'production',
    NOMAD_ADDR: options.nomadAddr,
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    WATCH_LEASE_TTL_MS: String(options.leaseTtlMs ?? 1_500),
    WATCH_WAIT_MS: String(options.waitMs ?? 5_000),
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  const logs: string[] = [];
  let onLine: ((line: string) => void) | undefined;
  for (const [stream, label] of [
    [child.stdout, 'out'],
    [child.stderr, 'err'],
  ] as const) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(`${label} ${line}`);
        if (label === 'out') onLine?.(line);
      }
    });
  }

  const stop = async (): Promise<void> => {
    if (hasExited(child)) return;
    const escalate = setTimeout(() => child.kill('SIGKILL'), 5_000);
    try {
      child.kill('SIGTERM');
      await waitForExit(child);
    } finally {
      clearTimeout(escalate);
    }
  };
  onTestFinished(stop);
  const printLogs = (): void => {
    process.stderr.write(`\n----- ${name} (pid ${child.pid}) logs -----\n${logs.join('\n')}\n----- end of ${name} logs -----\n`);
  };
  onTestFailed(printLogs);
  // GATEWAY_PROCESS_LOGS=1 prints them after passing tests too (to see what the replicas did).
  if (process.env['GATEWAY_PROCESS_LOGS'] === '1') onTestFinished(printLogs);

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const ready = await new Promise<{ url: string; replicaId: string }>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${name} did not log its ready line within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${logs.join('\n')}`));
    const onError = (error: Error): void => finish(error);
    function finish(outcome: Error | { url: string; replicaId: string }): void {
      clearTimeout(timer);
      onLine = undefined;
      child.off('exit', onExit);
      child.off('error', onError);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    }
    onLine = (line) => {
      const found = readyLine(line);
      if (found !== undefined) finish(found);
    };
    child.once('exit', onExit);
    child.once('error', onError);
  });
  if (child.pid === undefined) throw new Error(`${name} has no pid`);

  return {
    name,
    url: ready.url,
    wsUrl: `${ready.url.replace(/^http/, 'ws')}/graphql`,
    replicaId: ready.replicaId,
    pid: child.pid,
    logs,
    get exited() {
      return hasExited(child);
    },
    exit,
    signal(signal) {
      if (!hasExited(child)) child.kill(signal);
    },
    async kill(signal) {
      if (!hasExited(child)) child.kill(signal);
      await waitForExit(child);
    },
    stop,
  };
}
