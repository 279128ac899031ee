import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNomadExecTransport, ExecConnectionEndedError } from '../../../src/exec/nomad-transport.ts';
import type { ExecConnection, ExecEnd, ExecOutputFrame, ExecRequest, ExecTransport } from '../../../src/exec/transport.ts';
import { NomadHttpError, NomadTimeoutError, NomadUnavailableError } from '../../../src/nomad/errors.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { eventually, within } from '../../helpers/async-queue.ts';
import { startTcpProxy } from '../../helpers/tcp-proxy.ts';
import { createTestPki, type TestPki } from '../../helpers/test-pki.ts';
import { startRawServer, startRecordingExecServer, startTlsTerminator } from './servers.ts';

const WAIT_MS = 10_000;
const TIMING = { schedulerMs: 5, clientMs: 5 };

/** Everything a connection produced, once it is over. */
interface Drained {
  stdout: Buffer;
  stderr: Buffer;
  /** The streams Nomad closed, in order. */
  closedStreams: string[];
  end: ExecEnd;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Accumulates output frames per stream. */
class OutputLog {
  readonly chunks: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  readonly closedStreams: string[] = [];
  frames = 0;

  add(frame: ExecOutputFrame): void {
    this.frames += 1;
    if (frame.kind === 'output') this.chunks[frame.stream].push(frame.data);
    else this.closedStreams.push(frame.stream);
  }

  bytes(stream: 'stdout' | 'stderr'): Buffer {
    return Buffer.concat(this.chunks[stream]);
  }
}

/** Pulls every output frame, then waits for the end. */
async function drain(connection: ExecConnection): Promise<Drained> {
  const log = new OutputLog();
  const pulled = (async () => {
    for await (const frame of connection.output) log.add(frame);
  })();
  await within(WAIT_MS, 'the output to end', pulled);
  const end = await within(WAIT_MS, 'the connection to end', connection.ended);
  return { stdout: log.bytes('stdout'), stderr: log.bytes('stderr'), closedStreams: log.closedStreams, end };
}

/** Pulls frames one at a time until `done(log)` holds. */
async function pullUntil(
  output: AsyncIterator<ExecOutputFrame>,
  log: OutputLog,
  done: (log: OutputLog) => boolean,
  what: string,
): Promise<void> {
  const pulling = (async () => {
    while (!done(log)) {
      const next = await output.next();
      if (next.done === true) throw new Error(`output ended before ${what}`);
      log.add(next.value);
    }
  })();
  await within(WAIT_MS, what, pulling);
}

/** Bytes the process has written so far (`wchar` of /proc/<pid>/io), or undefined once it is gone. */
function bytesWritten(pid: number): number | undefined {
  try {
    const match = /^wchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Whether a process with `pid` exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Reads the pid a command printed on its first line (`sh -c 'echo $$; exec …'`). */
function firstLinePid(log: OutputLog): number {
  const line = log.bytes('stdout').toString('latin1').split('\n')[0] ?? '';
  const pid = Number(line);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`expected a pid on the first line, got ${JSON.stringify(line)}`);
  return pid;
}

const connections = new Set<ExecConnection>();

/** Opens a connection and registers it for cleanup. */
async function openExec(transport: ExecTransport, request: ExecRequest): Promise<ExecConnection> {
  const connection = await transport.open(request);
  connections.add(connection);
  return connection;
}

afterEach(() => {
  for (const connection of connections) connection.close();
  connections.clear();
});

describe('Nomad exec transport against the simulator', () => {
  let sim: Simulator;
  let transport: ExecTransport;
  let allocationId: string;
  let scratch: string;

  /** A request on the job's allocation and its default task. */
  const request = (command: string[], extra: Partial<ExecRequest> = {}): ExecRequest => ({
    allocationId,
    task: 'server',
    command,
    tty: false,
    token: undefined,
    ...extra,
  });

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'exec-transport-'));
    sim = await startSimulator({ scenario: 'empty', timing: TIMING });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    await sim.cluster.idle();
    allocationId = allocations[0]?.ID ?? '';
    transport = createNomadExecTransport({ address: sim.url });
  });

  afterAll(async () => {
    await sim.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('should run echo and report its output, both stream closes and exit code 0', async () => {
    const drained = await drain(await openExec(transport, request(['echo', 'hello'])));
    expect(drained.stdout.toString()).toBe('hello\n');
    expect(drained.stderr.length).toBe(0);
    expect([...drained.closedStreams].sort()).toEqual(['stderr', 'stdout']);
    // The simulator drops TCP after the exit frame without a close frame, as Nomad does: still an exit.
    expect(drained.end).toEqual({ kind: 'exited', exitCode: 0, signal: null, oomKilled: false });
  });

  it('should deliver stderr on its own stream and a non-zero exit code', async () => {
    const drained = await drain(await openExec(transport, request(['sh', '-c', 'echo err >&2; exit 3'])));
    expect(drained.stderr.toString()).toBe('err\n');
    expect(drained.stdout.length).toBe(0);
    expect(drained.end).toEqual({ kind: 'exited', exitCode: 3, signal: null, oomKilled: false });
  });

  it('should round-trip stdin through cat in order, then exit 0 after closeStdin', async () => {
    const connection = await openExec(transport, request(['cat']));
    const output = connection.output[Symbol.asyncIterator]();
    const log = new OutputLog();
    const pieces = [Buffer.from('first line\n'), Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x0a]), randomBytes(5000), Buffer.alloc(0)];
    const sent = Buffer.concat(pieces);
    for (const piece of pieces) await connection.write(piece);
    await pullUntil(output, log, (l) => l.bytes('stdout').length >= sent.length, 'cat to echo every byte');
    expect(log.bytes('stdout').equals(sent)).toBe(true);

    await connection.closeStdin();
    await pullUntil(output, log, (l) => l.closedStreams.length === 2, 'both streams to close');
    expect(await output.next()).toEqual({ done: true, value: undefined });
    expect(await within(WAIT_MS, 'the exit', connection.ended)).toEqual({ kind: 'exited', exitCode: 0, signal: null, oomKilled: false });
    await expect(connection.write(Buffer.from('late'))).rejects.toBeInstanceOf(ExecConnectionEndedError);
    await expect(connection.closeStdin()).rejects.toThrow(/exec connection is over \(exited\)/);
  });

  it('should settle ended on the exit frame and still hand out the output buffered before it', async () => {
    const connection = await openExec(transport, request(['sh', '-c', 'echo one; echo two >&2']));
    expect(await within(WAIT_MS, 'the exit', connection.ended)).toMatchObject({ kind: 'exited', exitCode: 0 });
    const drained = await drain(connection);
    expect(drained.stdout.toString()).toBe('one\n');
    expect(drained.stderr.toString()).toBe('two\n');
  });

  it('should report a command killed by a signal with 128 plus the signal, as Nomad executors do', async () => {
    const drained = await drain(await openExec(transport, request(['sh', '-c', 'kill -KILL $$'])));
    expect(drained.end).toEqual({ kind: 'exited', exitCode: 137, signal: null, oomKilled: false });
  });

  it('should be refused with task not found (1011) for an unknown task', async () => {
    const drained = await drain(await openExec(transport, request(['echo', 'hi'], { task: 'nope' })));
    expect(drained.end).toEqual({ kind: 'refused', code: 1011, reason: 'task not found' });
    expect(drained.stdout.length).toBe(0);
  });

  it('should be refused with 1008 Unknown allocation for an allocation that does not exist', async () => {
    const missing = randomUUID();
    const drained = await drain(await openExec(transport, request(['echo', 'hi'], { allocationId: missing })));
    expect(drained.end).toEqual({ kind: 'refused', code: 1008, reason: `Unknown allocation "${missing}"` });
  });

  it('should be refused with command is not present (1008) for an empty command', async () => {
    const drained = await drain(await openExec(transport, request([])));
    expect(drained.end).toEqual({ kind: 'refused', code: 1008, reason: 'command is not present' });
  });

  it('should deliver 10 MB of output byte-identical to the file the command reads', async () => {
    const file = join(scratch, 'ten-megabytes.bin');
    const content = randomBytes(10_000_000);
    writeFileSync(file, content);
    const drained = await drain(await openExec(transport, request(['cat', file])));
    expect(drained.stdout.length).toBe(content.length);
    expect(sha256(drained.stdout)).toBe(sha256(content));
    expect(drained.end).toMatchObject({ kind: 'exited', exitCode: 0 });
  });

  it('should pause the socket for a consumer that stops pulling, so the command stops writing, and resume when it pulls', async () => {
    const connection = await openExec(transport, request(['sh', '-c', 'echo $$; exec yes']));
    const output = connection.output[Symbol.asyncIterator]();
    const log = new OutputLog();
    await pullUntil(output, log, (l) => l.bytes('stdout').includes(0x0a), 'the pid line');
    const pid = firstLinePid(log);
    expect(isRunning(pid)).toBe(true);

    // Stop pulling. Buffers fill (ours, the kernel's, the simulator's 1 MB high-water mark), then
    // the simulator stops reading the pipe and `yes` blocks in write(2): its byte count freezes.
    const samples: number[] = [];
    await eventually(
      async () => {
        samples.push(bytesWritten(pid) ?? Number.NaN);
        const last = samples.slice(-20);
        return last.length === 20 && last.every((n) => n === last[0]);
      },
      '`yes` to stop writing while nobody pulls',
      { timeoutMs: WAIT_MS, intervalMs: 10 },
    );
    const stalledAt = samples.at(-1) ?? Number.NaN;
    // `yes` writes gigabytes a second when nothing holds it back; what is in flight is bounded by buffers.
    expect(stalledAt).toBeLessThan(64 * 1024 * 1024);

    // Pulling again resumes the socket, and the command writes again.
    await pullUntil(output, log, (l) => l.frames > 2_000, 'more output once pulling resumes');
    await eventually(async () => (bytesWritten(pid) ?? 0) > stalledAt, '`yes` to write again', { timeoutMs: WAIT_MS });

    connection.close();
    expect(await connection.ended).toEqual({ kind: 'closed' });
    expect(await output.next()).toEqual({ done: true, value: undefined });
    await eventually(async () => !isRunning(pid), 'the command to be gone after close()', { timeoutMs: WAIT_MS });
  });

  it('should leave no process running after close() mid-stream, and reject later writes', async () => {
    const connection = await openExec(transport, request(['sh', '-c', 'echo $$; exec cat']));
    const output = connection.output[Symbol.asyncIterator]();
    const log = new OutputLog();
    await pullUntil(output, log, (l) => l.bytes('stdout').includes(0x0a), 'the pid line');
    const pid = firstLinePid(log);
    await connection.write(Buffer.from('still here\n'));
    await pullUntil(output, log, (l) => l.bytes('stdout').toString().endsWith('still here\n'), 'the echo');

    connection.close();
    connection.close();
    expect(await connection.ended).toEqual({ kind: 'closed' });
    await expect(connection.write(Buffer.from('x'))).rejects.toBeInstanceOf(ExecConnectionEndedError);
    await eventually(async () => !isRunning(pid), 'the command to be gone after close()', { timeoutMs: WAIT_MS });
  });

  it('should close the connection when the request signal aborts, and stop the command', async () => {
    const controller = new AbortController();
    const connection = await openExec(transport, request(['sh', '-c', 'echo $$; exec sleep 600'], { signal: controller.signal }));
    const output = connection.output[Symbol.asyncIterator]();
    const log = new OutputLog();
    await pullUntil(output, log, (l) => l.bytes('stdout').includes(0x0a), 'the pid line');
    const pid = firstLinePid(log);
    controller.abort();
    expect(await connection.ended).toEqual({ kind: 'closed' });
    await eventually(async () => !isRunning(pid), 'the command to be gone after the abort', { timeoutMs: WAIT_MS });
  });

  it('should close the connection when the consumer breaks out of the output loop', async () => {
    const connection = await openExec(transport, request(['sh', '-c', 'echo $$; exec yes']));
    let pid = 0;
    for await (const frame of connection.output) {
      if (frame.kind === 'output' && frame.stream === 'stdout') {
        pid = Number(frame.data.toString('latin1').split('\n')[0]);
        break;
      }
    }
    expect(pid).toBeGreaterThan(0);
    expect(await within(WAIT_MS, 'the end', connection.ended)).toEqual({ kind: 'closed' });
    await eventually(async () => !isRunning(pid), 'the command to be gone after break', { timeoutMs: WAIT_MS });
  });

  it('should reject open with the signal reason when it is already aborted', async () => {
    const reason = new Error('caller gave up');
    await expect(transport.open(request(['echo', 'x'], { signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
  });

  it('should report a connection that breaks mid-stream as lost', async () => {
    const proxy = await startTcpProxy(sim.port);
    try {
      const viaProxy = createNomadExecTransport({ address: proxy.url });
      const connection = await openExec(viaProxy, request(['sh', '-c', 'echo $$; exec sleep 600']));
      const output = connection.output[Symbol.asyncIterator]();
      const log = new OutputLog();
      await pullUntil(output, log, (l) => l.bytes('stdout').includes(0x0a), 'the pid line');
      const pid = firstLinePid(log);
      await proxy.cut();
      const end = await within(WAIT_MS, 'the end', connection.ended);
      expect(end.kind).toBe('lost');
      expect(end).toMatchObject({ reason: expect.stringMatching(/before the command exited/) });
      expect(await output.next()).toEqual({ done: true, value: undefined });
      await eventually(async () => !isRunning(pid), 'the simulator to stop the command', { timeoutMs: WAIT_MS });
    } finally {
      await proxy.close();
    }
  });
});

describe('Nomad exec transport under ACLs', () => {
  let sim: Simulator;
  let transport: ExecTransport;
  let allocationId: string;

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'empty', timing: TIMING, acl: true });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    await sim.cluster.idle();
    allocationId = allocations[0]?.ID ?? '';
    transport = createNomadExecTransport({ address: sim.url });
  });

  afterAll(async () => {
    await sim.stop();
  });

  const run = async (token: string | undefined, allocation = allocationId): Promise<Drained> =>
    drain(await openExec(transport, { allocationId: allocation, task: 'server', command: ['echo', 'ok'], tty: false, token }));

  it('should authenticate with the handshake token: alloc-exec runs the command', async () => {
    const token = sim.acl.createToken({ namespaces: { default: { capabilities: ['alloc-exec'] } } }).SecretID;
    const drained = await run(token);
    expect(drained.stdout.toString()).toBe('ok\n');
    expect(drained.end).toMatchObject({ kind: 'exited', exitCode: 0 });
  });

  it('should be refused with Permission denied (1011) for a token without alloc-exec', async () => {
    const token = sim.acl.createToken({ namespaces: { default: { policy: 'read', capabilities: ['alloc-lifecycle'] } } }).SecretID;
    expect((await run(token)).end).toEqual({ kind: 'refused', code: 1011, reason: 'Permission denied' });
  });

  it('should be refused with Permission denied for no token and for an unknown token', async () => {
    expect((await run(undefined)).end).toEqual({ kind: 'refused', code: 1011, reason: 'Permission denied' });
    expect((await run(randomUUID())).end).toEqual({ kind: 'refused', code: 1011, reason: 'Permission denied' });
  });

  it('should report Unknown allocation before checking the token, as Nomad does', async () => {
    const missing = randomUUID();
    expect((await run(undefined, missing)).end).toEqual({ kind: 'refused', code: 1008, reason: `Unknown allocation "${missing}"` });
  });
});

describe('Nomad exec transport on the wire', () => {
  let recorder: Awaited<ReturnType<typeof startRecordingExecServer>>;

  beforeAll(async () => {
    recorder = await startRecordingExecServer();
  });

  afterAll(async () => {
    await recorder.close();
  });

  const base: ExecRequest = { allocationId: 'a1b2/c3', task: 'web server', command: ['/bin/sh', '-c', 'echo "a b" & x=1'], tty: false, token: 'secret-token' };

  it('should send the token only in the handshake, as the first frame, with the query the UI uses', async () => {
    const transport = createNomadExecTransport({ address: `${recorder.address}/nomad/`, region: 'eu' });
    await openExec(transport, { ...base, tty: true, size: { height: 40, width: 120 } });
    const seen = await recorder.connections.next();
    expect(seen.url.pathname).toBe('/nomad/v1/client/allocation/a1b2%2Fc3/exec');
    expect([...seen.url.searchParams.keys()]).toEqual(['task', 'tty', 'ws_handshake', 'region', 'command']);
    expect(seen.url.searchParams.get('task')).toBe('web server');
    expect(seen.url.searchParams.get('tty')).toBe('true');
    expect(seen.url.searchParams.get('ws_handshake')).toBe('true');
    expect(seen.url.searchParams.get('region')).toBe('eu');
    expect(JSON.parse(seen.url.searchParams.get('command') ?? '')).toEqual(base.command);
    expect(seen.url.toString()).not.toContain('secret-token');
    expect(seen.headers['x-nomad-token']).toBeUndefined();
    expect(seen.headers['authorization']).toBeUndefined();
    expect(seen.headers['origin']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain('secret-token');
    expect(await seen.frames.next()).toBe('{"version":1,"auth_token":"secret-token"}');
    expect(await seen.frames.next()).toBe('{"tty_size":{"height":40,"width":120}}');
  });

  it('should let a request region win over the default and send an empty token when there is none', async () => {
    const transport = createNomadExecTransport({ address: recorder.address, region: 'eu' });
    const connection = await openExec(transport, { ...base, token: undefined, region: 'us' });
    const seen = await recorder.connections.next();
    expect(seen.url.searchParams.get('region')).toBe('us');
    expect(seen.url.searchParams.get('tty')).toBe('false');
    expect(await seen.frames.next()).toBe('{"version":1,"auth_token":""}');
    await connection.write(Buffer.from([0xff, 0x00]));
    await connection.resize({ height: 1, width: 2 });
    await connection.closeStdin();
    expect([await seen.frames.next(), await seen.frames.next(), await seen.frames.next()]).toEqual([
      '{"stdin":{"data":"/wA="}}',
      '{"tty_size":{"height":1,"width":2}}',
      '{"stdin":{"close":true}}',
    ]);
  });

  it('should heartbeat every heartbeatMs and stop once the connection is closed', async () => {
    const transport = createNomadExecTransport({ address: recorder.address, heartbeatMs: 20 });
    const first = await openExec(transport, base);
    const firstSeen = await recorder.connections.next();
    expect(await firstSeen.frames.next()).toContain('"version":1');
    for (let i = 0; i < 3; i++) expect(await firstSeen.frames.next()).toBe('{}');
    first.close();
    expect(await within(WAIT_MS, 'the server to see the close', firstSeen.closed)).toEqual({ code: 1000, reason: '' });
    const countAtClose = firstSeen.received.length;

    // A second connection's heartbeats are the clock: three of its intervals pass with none from the first.
    await openExec(transport, base);
    const secondSeen = await recorder.connections.next();
    await secondSeen.frames.next();
    for (let i = 0; i < 3; i++) expect(await secondSeen.frames.next()).toBe('{}');
    expect(firstSeen.received.length).toBe(countAtClose);
  });

  it('should map frames to output, treat exit then a dropped connection as an exit, and stop heartbeating', async () => {
    const transport = createNomadExecTransport({ address: recorder.address, heartbeatMs: 20 });
    const connection = await openExec(transport, base);
    const seen = await recorder.connections.next();
    await seen.frames.next();
    seen.socket.send('{"stdout":{"data":"aGkK"}}');
    seen.socket.send('{}');
    seen.socket.send('{"stderr":{"data":"/w=="},"unknown":true}');
    seen.socket.send('{"stdout":{"close":true}}');
    seen.socket.send('{"exited":true,"result":{"exit_code":137,"signal":9,"oom_killed":true}}', () => seen.drop());
    const log = new OutputLog();
    for await (const frame of connection.output) log.add(frame);
    expect(log.bytes('stdout').toString()).toBe('hi\n');
    expect(log.bytes('stderr')).toEqual(Buffer.from([0xff]));
    expect(log.closedStreams).toEqual(['stdout']);
    expect(await connection.ended).toEqual({ kind: 'exited', exitCode: 137, signal: 9, oomKilled: true });
  });

  it('should end as lost and close with 1002 when Nomad sends a frame it cannot decode', async () => {
    const transport = createNomadExecTransport({ address: recorder.address });
    const connection = await openExec(transport, base);
    const seen = await recorder.connections.next();
    seen.socket.send('{"stdout":{"data":"not base64!"}}');
    const end = await within(WAIT_MS, 'the end', connection.ended);
    expect(end).toEqual({ kind: 'lost', reason: expect.stringContaining('$.stdout.data: expected standard base64') });
    expect((await within(WAIT_MS, 'the server to see the close', seen.closed)).code).toBe(1002);
  });

  it('should end as lost when Nomad closes normally without an exit frame, and refused for 1008/1011', async () => {
    const transport = createNomadExecTransport({ address: recorder.address });
    const normal = await openExec(transport, base);
    (await recorder.connections.next()).socket.close(1000, 'bye');
    expect(await within(WAIT_MS, 'the end', normal.ended)).toEqual({
      kind: 'lost',
      reason: 'Nomad closed the exec connection with code 1000 "bye" before the command exited',
    });
    const refused = await openExec(transport, base);
    (await recorder.connections.next()).socket.close(1008, 'task "web" is not running.');
    expect(await within(WAIT_MS, 'the end', refused.ended)).toEqual({ kind: 'refused', code: 1008, reason: 'task "web" is not running.' });
  });

  it('should keep reading after the buffer pauses once the consumer catches up (soft bound, no frame lost)', async () => {
    const transport = createNomadExecTransport({ address: recorder.address, maxBufferedFrames: 2 });
    const connection = await openExec(transport, base);
    const seen = await recorder.connections.next();
    const sent = Array.from({ length: 50 }, (_, i) => Buffer.from(`frame ${i}\n`));
    for (const data of sent) seen.socket.send(JSON.stringify({ stdout: { data: data.toString('base64') } }));
    seen.socket.send('{"exited":true,"result":{}}', () => seen.drop());
    const drained = await drain(connection);
    expect(drained.stdout.toString()).toBe(Buffer.concat(sent).toString());
    expect(drained.end).toMatchObject({ kind: 'exited', exitCode: 0 });
  });
});

describe('Nomad exec transport when the upgrade fails', () => {
  const request: ExecRequest = { allocationId: 'a', task: 't', command: ['true'], tty: false, token: 'secret-token' };

  it('should reject with NomadHttpError and the body when the server answers the upgrade with an HTTP error', async () => {
    const server = await startRawServer((socket) =>
      socket.once('data', () =>
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nX-Nomad-Index: 7\r\nConnection: close\r\n\r\nPermission denied'),
      ),
    );
    try {
      const error = await createNomadExecTransport({ address: server.address }).open(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NomadHttpError);
      expect(error).toMatchObject({ status: 403, nomadMessage: 'Permission denied', method: 'GET', path: '/v1/client/allocation/a/exec' });
      expect(String(error)).not.toContain('secret-token');
    } finally {
      await server.close();
    }
  });

  it('should reject with NomadTimeoutError when the upgrade gets no answer within openTimeoutMs', async () => {
    const server = await startRawServer(() => undefined);
    try {
      const error = await createNomadExecTransport({ address: server.address, openTimeoutMs: 100 }).open(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NomadTimeoutError);
      expect(error).toMatchObject({ timeoutMs: 100 });
    } finally {
      await server.close();
    }
  });

  it('should reject with NomadUnavailableError when nothing listens', async () => {
    const server = await startRawServer(() => undefined);
    const { address } = server;
    await server.close();
    const error = await createNomadExecTransport({ address }).open(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NomadUnavailableError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('should reject with the signal reason when aborted during the upgrade', async () => {
    const server = await startRawServer(() => undefined);
    try {
      const controller = new AbortController();
      const opening = createNomadExecTransport({ address: server.address }).open({ ...request, signal: controller.signal });
      const reason = new Error('caller left');
      controller.abort(reason);
      await expect(opening).rejects.toBe(reason);
    } finally {
      await server.close();
    }
  });

  it('should refuse options it cannot honour', () => {
    expect(() => createNomadExecTransport({ address: 'http://127.0.0.1:4646', tls: { insecureSkipVerify: true } })).toThrow(/https/);
    expect(() => createNomadExecTransport({ address: 'ftp://nomad' })).toThrow(TypeError);
    expect(() => createNomadExecTransport({ address: 'http://nomad?x=1' })).toThrow(TypeError);
    expect(() => createNomadExecTransport({ address: 'http://nomad', heartbeatMs: 0 })).toThrow(RangeError);
    expect(() => createNomadExecTransport({ address: 'http://nomad', maxBufferedFrames: 1.5 })).toThrow(RangeError);
  });
});

describe('Nomad exec transport over TLS', () => {
  let pki: TestPki;
  let sim: Simulator;
  let allocationId: string;

  beforeAll(async () => {
    pki = createTestPki();
    sim = await startSimulator({ scenario: 'empty', timing: TIMING });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    await sim.cluster.idle();
    allocationId = allocations[0]?.ID ?? '';
  });

  afterAll(async () => {
    await sim.stop();
    pki.dispose();
  });

  const request = (): ExecRequest => ({ allocationId, task: 'server', command: ['echo', 'over tls'], tty: false, token: undefined });

  it('should verify Nomad against the given CA under the given server name, sent as SNI', async () => {
    const terminator = await startTlsTerminator(pki, sim.port, { requireClientCert: false });
    try {
      const transport = createNomadExecTransport({ address: terminator.address, tls: { ca: pki.pem('ca.pem'), serverName: 'server.global.nomad' } });
      const drained = await drain(await openExec(transport, request()));
      expect(drained.stdout.toString()).toBe('over tls\n');
      expect(drained.end).toMatchObject({ kind: 'exited', exitCode: 0 });
      expect(terminator.serverNames).toEqual(['server.global.nomad']);
    } finally {
      await terminator.close();
    }
  });

  it('should present the client certificate for mutual TLS', async () => {
    const terminator = await startTlsTerminator(pki, sim.port, { requireClientCert: true });
    try {
      const tls = { ca: [pki.pem('ca.pem')], cert: pki.pem('client.pem'), key: pki.pem('client.key'), serverName: 'server.global.nomad' };
      const drained = await drain(await openExec(createNomadExecTransport({ address: terminator.address, tls }), request()));
      expect(drained.stdout.toString()).toBe('over tls\n');
      const withoutCert = createNomadExecTransport({ address: terminator.address, tls: { ca: pki.pem('ca.pem'), serverName: 'server.global.nomad' } });
      await expect(withoutCert.open(request())).rejects.toBeInstanceOf(NomadUnavailableError);
    } finally {
      await terminator.close();
    }
  });

  it('should refuse a server it cannot verify unless told to skip verification', async () => {
    const terminator = await startTlsTerminator(pki, sim.port, { requireClientCert: false });
    try {
      const noCa = createNomadExecTransport({ address: terminator.address, tls: { serverName: 'server.global.nomad' } });
      await expect(noCa.open(request())).rejects.toBeInstanceOf(NomadUnavailableError);
      const wrongName = createNomadExecTransport({ address: terminator.address, tls: { ca: pki.pem('ca.pem') } });
      await expect(wrongName.open(request())).rejects.toMatchObject({ name: 'NomadUnavailableError', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      const skip = createNomadExecTransport({ address: terminator.address, tls: { insecureSkipVerify: true } });
      expect((await drain(await openExec(skip, request()))).stdout.toString()).toBe('over tls\n');
    } finally {
      await terminator.close();
    }
  });
});
