import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { afterAll, beforeAll, onTestFinished } from 'vitest';

/** A real `redis-server` child process on 127.0.0.1. */
export interface RedisServer {
  /** e.g. `redis://127.0.0.1:40123` */
  readonly url: string;
  readonly port: number;
  /** Ends the process (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts a new process on the same port (stopping the current one first if it still runs). */
  restart(): Promise<void>;
}

const INSTALL_HINT = 'redis-server is not installed: run `apt-get install -y redis-server` (CI installs it)';
const READY_LINE = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;
const BIND_ATTEMPTS = 5;

class BindError extends Error {}

/** A port the kernel just handed out. Redis cannot listen on port 0, so this races; callers retry. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Sends PING over a raw socket and resolves once `+PONG` comes back. */
async function ping(port: number): Promise<void> {
  const socket = createConnection({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    socket.write('PING\r\n');
    const [data] = (await once(socket, 'data')) as [Buffer];
    if (!data.toString('latin1').startsWith('+PONG')) throw new Error(`unexpected PING reply ${JSON.stringify(data.toString('latin1'))}`);
  } finally {
    socket.destroy();
  }
}

/** Spawns redis-server on `port`; resolves once it logged readiness and answered PING. */
async function spawnOn(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // If the test worker dies without running its hooks, take the server down with it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on port ${port} not ready after ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        if (output.includes(READY_LINE)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(error.code === 'ENOENT' ? new Error(INSTALL_HINT) : error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const message = `redis-server on port ${port} exited (${signal ?? code}) before it was ready:\n${output}`;
        reject(output.includes('Address already in use') ? new BindError(message) : new Error(message));
      });
    });
    await ping(port);
    return child;
  } catch (error) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    throw error;
  }
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/** Spawns a redis-server on a free port, retrying when another process took the port first. */
async function spawnRedisServer(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt += 1) {
    const port = await freePort();
    try {
      return handle(port, await spawnOn(port));
    } catch (error) {
      if (!(error instanceof BindError)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

function handle(port: number, first: ChildProcess): RedisServer {
  let child = first;
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (current.exitCode === null && current.signalCode === null) current.kill(signal);
    await exited(current);
  };
  const stop = async (): Promise<void> => {
    const current = child;
    if (current.exitCode !== null || current.signalCode !== null) return;
    const escalate = setTimeout(() => current.kill('SIGKILL'), 5_000);
    try {
      await kill('SIGTERM');
    } finally {
      clearTimeout(escalate);
    }
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    kill,
    async restart() {
      await stop();
      let lastError: unknown;
      for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt += 1) {
        try {
          child = await spawnOn(port);
          return;
        } catch (error) {
          // Our own old process is gone, so a bind failure is another process on the port: only
          // worth retrying if it lets go soon.
          if (!(error instanceof BindError)) throw error;
          lastError = error;
        }
      }
      throw lastError;
    },
  };
}

/**
 * Starts a redis-server for the current test and stops it when the test finishes, pass or fail.
 * Call it inside a test; for one server per describe use `useRedisServer`.
 * Fails (never skips) with an install hint when `redis-server` is missing.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const server = await spawnRedisServer();
  onTestFinished(() => server.stop());
  return server;
}

/** One redis-server for the enclosing describe: started in beforeAll, stopped in afterAll. */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await spawnRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('redis-server not started yet');
    return server;
  };
}
