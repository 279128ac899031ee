import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { constants, existsSync, mkdtempSync, openSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/server.ts';

const WAIT_MS = 10_000;

/** Rejects if `promise` has not settled within `ms`; the timer never outlives the wait. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A stable, well-formed id that no allocation has. */
function unknownAllocId(label: string): string {
  const hex = createHash('sha256').update(label).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

interface Closed {
  code: number;
  reason: string;
}

/** A `ws` client on the exec endpoint that buffers every frame, with queue-backed waits. */
class ExecClient {
  readonly raw: string[] = [];
  readonly #chunks: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<Closed>;
  /** The largest decoded data chunk seen in one frame. */
  largestChunk = 0;

  constructor(readonly socket: WsClient) {
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.raw.push(text);
      const frame: unknown = JSON.parse(text);
      for (const stream of ['stdout', 'stderr'] as const) {
        const part = isRecord(frame) ? frame[stream] : undefined;
        if (isRecord(part) && typeof part['data'] === 'string') {
          const bytes = Buffer.from(part['data'], 'base64');
          this.largestChunk = Math.max(this.largestChunk, bytes.length);
          this.#chunks[stream].push(bytes);
        }
      }
      for (const wake of this.#waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const wake of this.#waiters) wake();
      });
    });
  }

  get stdout(): string {
    return Buffer.concat(this.#chunks.stdout).toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.#chunks.stderr).toString('utf8');
  }

  stdoutBytes(): Buffer {
    return Buffer.concat(this.#chunks.stdout);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves once `check()` holds after some frame arrived. */
  until(check: () => boolean, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    let waiter = (): void => undefined;
    const reached = new Promise<void>((resolve) => {
      waiter = () => {
        if (check()) resolve();
      };
      this.#waiters.add(waiter);
    });
    return within(reached, WAIT_MS, what).finally(() => this.#waiters.delete(waiter));
  }

  /** Waits for the server to end the session. */
  finished(): Promise<Closed> {
    return within(this.closed, WAIT_MS, 'the exec session to end');
  }
}

const clients = new Set<WsClient>();

/** Registers a client socket for cleanup; its errors are asserted where a test expects them. */
function track(socket: WsClient): WsClient {
  socket.on('error', () => undefined);
  clients.add(socket);
  return socket;
}

interface OpenOptions {
  task?: string;
  command?: string[] | string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  origin?: string;
  path?: string;
}

function execUrl(sim: Simulator, allocId: string, options: OpenOptions): string {
  const url = new URL(options.path ?? `/v1/client/allocation/${allocId}/exec`, sim.url.replace('http', 'ws'));
  if (options.task !== undefined) url.searchParams.set('task', options.task);
  if (options.command !== undefined) {
    url.searchParams.set('command', typeof options.command === 'string' ? options.command : JSON.stringify(options.command));
  }
  for (const [name, value] of Object.entries(options.params ?? {})) url.searchParams.set(name, value);
  return url.toString();
}

/** Opens an exec socket and resolves once it is open (the server upgrades before any check). */
async function openExec(sim: Simulator, allocId: string, options: OpenOptions = {}): Promise<ExecClient> {
  const socket = track(new WsClient(execUrl(sim, allocId, options), { headers: options.headers, origin: options.origin }));
  const client = new ExecClient(socket);
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    WAIT_MS,
    'the exec socket to open',
  );
  return client;
}

/** Runs a command to its end with no input. */
async function run(sim: Simulator, allocId: string, options: OpenOptions): Promise<{ client: ExecClient; closed: Closed }> {
  const client = await openExec(sim, allocId, options);
  return { client, closed: await client.finished() };
}

const sims = new Set<Simulator>();
const scratch: string[] = [];

async function startSim(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  sims.add(sim);
  return sim;
}

async function stopSim(sim: Simulator): Promise<void> {
  sims.delete(sim);
  await sim.stop();
}

function scratchDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'exec-test-')));
  scratch.push(dir);
  return dir;
}

/** Places a one-group job and waits until its allocations run; returns their ids. */
async function runningJob(
  sim: Simulator,
  spec: { id: string; count?: number; tasks?: { name: string; driver: string }[] },
): Promise<string[]> {
  const { allocations } = sim.cluster.createJob({
    id: spec.id,
    groups: [{ name: spec.id, count: spec.count ?? 1, tasks: spec.tasks ?? [{ name: 'main', driver: 'exec' }] }],
  });
  await sim.cluster.idle();
  return allocations.map((a) => a.ID);
}

afterEach(() => {
  for (const socket of clients) socket.terminate();
  clients.clear();
});

afterAll(async () => {
  await Promise.all([...sims].map((sim) => stopSim(sim)));
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('exec over WebSocket', () => {
  let sim: Simulator;
  let workRoot: string;
  let allocIds: string[];
  let alloc: string;

  beforeAll(async () => {
    workRoot = scratchDir();
    sim = await startSim({ execWorkRoot: workRoot });
    allocIds = await runningJob(sim, { id: 'app', count: 2 });
    alloc = allocIds[0] ?? '';
  });

  it('should round-trip stdin through cat and encode exit code 0 as an empty result', async () => {
    const client = await openExec(sim, alloc, { task: 'main', command: ['cat'] });
    client.send({ stdin: { data: b64('hello exec\n') } });
    client.send({ stdin: { close: true } });
    const closed = await client.finished();
    expect(client.stdout).toBe('hello exec\n');
    expect(client.raw).toContain('{"stdout":{"close":true}}');
    expect(client.raw).toContain('{"stderr":{"close":true}}');
    expect(client.raw.at(-1)).toBe('{"exited":true,"result":{}}');
    // No close frame after the exit frame: the connection is just closed.
    expect(closed.code).toBe(1006);
    expect(sim.requestCount('WS /v1/client/allocation/:id/exec')).toBeGreaterThan(0);
  });

  it('should send stderr in its own frames and report a non-zero exit code', async () => {
    const { client, closed } = await run(sim, alloc, { task: 'main', command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    expect(client.stdout).toBe('out\n');
    expect(client.stderr).toBe('err\n');
    expect(client.raw.at(-1)).toBe('{"exited":true,"result":{"exit_code":3}}');
    expect(closed.code).toBe(1006);
  });

  it('should report a command killed by a signal as exit code 128 plus the signal', async () => {
    const { client } = await run(sim, alloc, { task: 'main', command: ['sh', '-c', 'kill -TERM $$'] });
    expect(client.raw.at(-1)).toBe('{"exited":true,"result":{"exit_code":143}}');
  });

  it('should deliver several megabytes of output byte-identical in chunks of at most 1024 bytes', async () => {
    const file = join(workRoot, 'big.bin');
    const content = randomBytes(3_000_000);
    writeFileSync(file, content);
    const { client } = await run(sim, alloc, { task: 'main', command: ['cat', file] });
    const received = client.stdoutBytes();
    expect(received.length).toBe(content.length);
    expect(sha256(received)).toBe(sha256(content));
    expect(client.largestChunk).toBe(1024);
    expect(client.raw.at(-1)).toBe('{"exited":true,"result":{}}');
  });

  it('should merge stderr into stdout with tty and pass the tty_size sent before the start', async () => {
    const client = await openExec(sim, alloc, {
      task: 'main',
      command: ['sh', '-c', 'echo "$COLUMNS $LINES $TERM"; echo err >&2; cat'],
      params: { tty: 'true', ws_handshake: 'true' },
    });
    client.send({ version: 1, auth_token: '' });
    client.send({ tty_size: { height: 40, width: 120 } });
    await client.until(() => client.stdout.includes('err\n') && client.stdout.includes('xterm'), 'the first output');
    client.send({ tty_size: { height: 50, width: 100 } });
    client.send({});
    client.send({ stdin: { data: b64('typed\n'), close: true } });
    await client.finished();
    expect(client.stdout.split('\n').sort()).toEqual(['', '120 40 xterm-256color', 'err', 'typed']);
    expect(client.stderr).toBe('');
    expect(client.raw.filter((f) => f.includes('"close":true'))).toEqual(['{"stdout":{"close":true}}']);
    expect(client.raw.at(-1)).toBe('{"exited":true,"result":{}}');
  });

  it('should run each allocation in its own working directory with the task environment', async () => {
    const command = ['sh', '-c', 'pwd; echo "$NOMAD_ALLOC_ID $NOMAD_TASK_NAME $NOMAD_JOB_NAME $NOMAD_NAMESPACE"'];
    for (const id of allocIds) {
      const { client } = await run(sim, id, { task: 'main', command });
      expect(client.stdout).toBe(`${join(workRoot, id, 'main')}\n${id} main app default\n`);
    }
  });

  it('should kill the command when the client disconnects mid-stream and keep serving', async () => {
    // The command holds a FIFO open; our read end sees EOF only once every process holding it is gone.
    const fifo = join(workRoot, `fifo-${randomUUID()}`);
    execFileSync('mkfifo', [fifo]);
    const script = 'exec 3<>"$1"; echo ready; exec sleep 1000';
    const client = await openExec(sim, alloc, { task: 'main', command: ['sh', '-c', script, 'sh', fifo] });
    await client.until(() => client.stdout === 'ready\n', 'the command to start');
    const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    const gone = new Promise<void>((resolve) => reader.once('end', resolve));
    reader.resume();
    client.socket.terminate();
    await within(gone, WAIT_MS, 'the command to be killed');
    reader.destroy();

    const { client: next } = await run(sim, alloc, { task: 'main', command: ['echo', 'still serving'] });
    expect(next.stdout).toBe('still serving\n');
  });

  it('should refuse a cross-origin Origin with HTTP 403 before upgrading', async () => {
    const socket = track(new WsClient(execUrl(sim, alloc, { task: 'main', command: ['true'] }), { origin: 'http://evil.example' }));
    const response = await within(
      new Promise<{ status: number | undefined; body: string }>((resolve) => {
        socket.once('unexpected-response', (_request, res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        });
      }),
      WAIT_MS,
      'the 403',
    );
    expect(response).toEqual({ status: 403, body: 'Forbidden\n' });
  });

  it('should accept an Origin that matches the Host', async () => {
    const { client } = await run(sim, alloc, { task: 'main', command: ['echo', 'same origin'], origin: sim.url });
    expect(client.stdout).toBe('same origin\n');
  });

  it('should drop upgrade requests to any other path', async () => {
    const socket = track(new WsClient(`${sim.url.replace('http', 'ws')}/v1/allocations`));
    const error = await within(new Promise<Error>((resolve) => socket.once('error', resolve)), WAIT_MS, 'the drop');
    expect(error.message).toMatch(/socket hang up/);
  });

  describe('errors', () => {
    const bigValue = 'x'.repeat(100);
    const cases: { name: string; options: () => OpenOptions; code: number; reason: string }[] = [
      { name: 'an unknown allocation', options: () => ({ path: `/v1/client/allocation/${unknownAllocId('unknown')}/exec`, task: 'main', command: ['true'] }), code: 1008, reason: `Unknown allocation "${unknownAllocId('unknown')}"` },
      { name: 'a malformed allocation id', options: () => ({ path: '/v1/client/allocation/abc/exec', task: 'main', command: ['true'] }), code: 1011, reason: 'alloc lookup failed: index error: UUID must be 36 characters' },
      { name: 'an unknown task', options: () => ({ task: 'nope', command: ['true'] }), code: 1011, reason: 'task not found' },
      { name: 'an empty task name', options: () => ({ task: '', command: ['true'] }), code: 1008, reason: 'must provide task name' },
      { name: 'a missing command', options: () => ({ task: 'main' }), code: 1011, reason: 'failed to marshal command into json: unexpected end of JSON input' },
      { name: 'a command that is not JSON', options: () => ({ task: 'main', command: 'sh' }), code: 1011, reason: "failed to marshal command into json: invalid character 's' looking for beginning of value" },
      { name: 'an empty command', options: () => ({ task: 'main', command: [] }), code: 1008, reason: 'command is not present' },
      { name: 'a command not on the PATH', options: () => ({ task: 'main', command: ['no-such-command-xyz'] }), code: 1011, reason: 'failed to start command: exec: "no-such-command-xyz": executable file not found in $PATH' },
      { name: 'a non-boolean tty', options: () => ({ task: 'main', command: ['true'], params: { tty: 'maybe' } }), code: 1011, reason: 'tty value is not a boolean: strconv.ParseBool: parsing "maybe": invalid syntax' },
      { name: 'a non-boolean ws_handshake', options: () => ({ task: 'main', command: ['true'], params: { ws_handshake: 'maybe' } }), code: 1008, reason: 'ws_handshake value is not a boolean: strconv.ParseBool: parsing "maybe": invalid syntax' },
      // Over 123 bytes of reason: gorilla cannot send the close frame, so the connection just drops.
      { name: 'an error text too long for a close frame', options: () => ({ task: 'main', command: ['true'], params: { ws_handshake: bigValue } }), code: 1006, reason: '' },
    ];

    it.each(cases)('should close with the catalogue code and reason for $name', async ({ options, code, reason }) => {
      const { client, closed } = await run(sim, alloc, options());
      expect(closed).toEqual({ code, reason });
      expect(client.raw).toEqual([]);
    });

    it('should close with 1008 for a handshake of another version or that is not JSON', async () => {
      const params = { ws_handshake: 'true' };
      const versioned = await openExec(sim, alloc, { task: 'main', command: ['true'], params });
      versioned.send({ version: 2, auth_token: '' });
      expect(await versioned.finished()).toEqual({ code: 1008, reason: 'unexpected handshake value: 2' });
      const garbled = await openExec(sim, alloc, { task: 'main', command: ['true'], params });
      garbled.send('hello');
      expect(await garbled.finished()).toEqual({ code: 1008, reason: "invalid character 'h' looking for beginning of value" });
    });

    it('should close with 1011 and the JSON error for a frame that is not JSON', async () => {
      const client = await openExec(sim, alloc, { task: 'main', command: ['sh', '-c', 'echo ready; exec cat'] });
      await client.until(() => client.stdout === 'ready\n', 'the command to start');
      client.send('hello');
      expect(await client.finished()).toEqual({ code: 1011, reason: "invalid character 'h' looking for beginning of value" });
    });

    it('should close with 1011 for a setup frame', async () => {
      const client = await openExec(sim, alloc, { task: 'main', command: ['sh', '-c', 'echo ready; exec cat'] });
      await client.until(() => client.stdout === 'ready\n', 'the command to start');
      client.send({ setup: { command: ['sh'] } });
      expect(await client.finished()).toEqual({ code: 1011, reason: 'unexpected message type' });
    });

    it('should refuse a terminal allocation', async () => {
      const [done = ''] = await runningJob(sim, { id: 'finished' });
      sim.cluster.setTaskState(done, 'main', 'dead');
      const { closed } = await run(sim, done, { task: 'main', command: ['true'] });
      expect(closed).toEqual({ code: 1008, reason: `exec not possible, client status of allocation ${done} is complete` });
    });

    it('should refuse a task that is not running', async () => {
      const [twoTasks = ''] = await runningJob(sim, {
        id: 'pair',
        tasks: [
          { name: 'main', driver: 'exec' },
          { name: 'side', driver: 'exec' },
        ],
      });
      sim.cluster.setTaskState(twoTasks, 'side', 'dead');
      const { closed } = await run(sim, twoTasks, { task: 'side', command: ['true'] });
      expect(closed).toEqual({ code: 1008, reason: 'task "side" is not running.' });
    });
  });
});

describe('exec before and after the task runs', () => {
  it('should refuse a task that has not started yet', async () => {
    const sim = await startSim({ timing: { clientMs: 600_000 } });
    const { allocations } = sim.cluster.createJob({ id: 'slow', groups: [{ name: 'slow', tasks: [{ name: 'main', driver: 'exec' }] }] });
    const id = allocations[0]?.ID ?? '';
    const { closed } = await run(sim, id, { task: 'main', command: ['true'] });
    expect(closed).toEqual({ code: 1008, reason: 'task "main" not started yet.' });
  });

  it('should answer No path to node when the node is down', async () => {
    const sim = await startSim();
    const [id = ''] = await runningJob(sim, { id: 'stranded' });
    const nodeId = sim.store.allocs.get(id)?.NodeID ?? '';
    sim.store.commit(['nodes'], () => {
      const node = sim.store.nodes.get(nodeId);
      if (node !== undefined) node.Status = 'down';
    });
    const { closed } = await run(sim, id, { task: 'main', command: ['true'] });
    expect(closed).toEqual({ code: 1008, reason: 'No path to node' });
  });

  it('should end running sessions and remove its own work root when the simulator stops', async () => {
    const sim = await startSim();
    const [id = ''] = await runningJob(sim, { id: 'long' });
    const client = await openExec(sim, id, { task: 'main', command: ['sh', '-c', 'pwd; exec sleep 1000'] });
    await client.until(() => client.stdout.endsWith('\n'), 'the command to start');
    const taskDir = client.stdout.trim();
    expect(existsSync(taskDir)).toBe(true);
    await within(stopSim(sim), WAIT_MS, 'the simulator to stop');
    expect((await client.finished()).code).toBe(1006);
    expect(existsSync(taskDir)).toBe(false);
  });
});

describe('exec with ACLs', () => {
  let sim: Simulator;
  let alloc: string;
  let rawAlloc: string;
  const echo = { task: 'main', command: ['echo', 'allowed'] };

  beforeAll(async () => {
    sim = await startSim({ acl: true });
    [alloc = ''] = await runningJob(sim, { id: 'app' });
    [rawAlloc = ''] = await runningJob(sim, { id: 'raw', tasks: [{ name: 'main', driver: 'raw_exec' }] });
  });

  function token(capabilities: ('alloc-exec' | 'alloc-node-exec')[] | 'read'): string {
    const rule = capabilities === 'read' ? { policy: 'read' as const } : { capabilities };
    return sim.acl.createToken({ namespaces: { default: rule } }).SecretID;
  }

  it('should run a command for a token with alloc-exec in the X-Nomad-Token header', async () => {
    const { client } = await run(sim, alloc, { ...echo, headers: { 'X-Nomad-Token': token(['alloc-exec']) } });
    expect(client.stdout).toBe('allowed\n');
  });

  it('should take the token from the handshake frame when no header carries one', async () => {
    const client = await openExec(sim, alloc, { ...echo, params: { ws_handshake: 'true' } });
    client.send({ version: 1, auth_token: token(['alloc-exec']) });
    await client.finished();
    expect(client.stdout).toBe('allowed\n');
  });

  it('should refuse a handshake token that differs from the header token', async () => {
    const client = await openExec(sim, alloc, {
      ...echo,
      params: { ws_handshake: 'true' },
      headers: { Authorization: `Bearer ${token(['alloc-exec'])}` },
    });
    client.send({ version: 1, auth_token: token(['alloc-exec']) });
    expect(await client.finished()).toEqual({ code: 1008, reason: 'handshake auth token mismatched auth header token' });
  });

  it.each([
    { who: 'a read-only token', headers: (): Record<string, string> => ({ 'X-Nomad-Token': token('read') }) },
    { who: 'an unknown token', headers: (): Record<string, string> => ({ 'X-Nomad-Token': randomUUID() }) },
    { who: 'an anonymous request', headers: (): Record<string, string> => ({}) },
  ])('should close with 1011 Permission denied for $who', async ({ headers }) => {
    const { client, closed } = await run(sim, alloc, { ...echo, headers: headers() });
    expect(closed).toEqual({ code: 1011, reason: 'Permission denied' });
    expect(client.raw).toEqual([]);
  });

  it('should look the allocation up before checking the token', async () => {
    const id = unknownAllocId('missing');
    const { closed } = await run(sim, id, { ...echo, headers: { 'X-Nomad-Token': randomUUID() } });
    expect(closed).toEqual({ code: 1008, reason: `Unknown allocation "${id}"` });
  });

  it('should require alloc-node-exec for a raw_exec task', async () => {
    const denied = await run(sim, rawAlloc, { ...echo, headers: { 'X-Nomad-Token': token(['alloc-exec']) } });
    expect(denied.closed).toEqual({ code: 1011, reason: 'Permission denied' });
    const allowed = await run(sim, rawAlloc, { ...echo, headers: { 'X-Nomad-Token': token(['alloc-exec', 'alloc-node-exec']) } });
    expect(allowed.client.stdout).toBe('allowed\n');
  });
});
