/**
 * Exec sessions (Nomad's `alloc exec`) through the gateway against a direct WebSocket to the
 * simulator's exec endpoint, in the same run: the round trip of one keystroke through `cat`, the
 * throughput of a command's bulk output, and how long a session takes to show its first output.
 * Both sides run real child processes on this host (the simulator's exec), so the command's own
 * cost falls on both; gateway and direct runs alternate so that noise does too.
 *
 * Through the gateway, a client does what the exec terminal page does: `execAllocation` over
 * graphql-ws, and each keystroke as an `execInput` mutation, here over the same graphql-ws
 * connection (one socket, as a terminal holding a connection open would use it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket, { type RawData } from 'ws';
import { isRecord } from '../json.ts';
import { percentile } from '../load.ts';
import { figure, type Figure } from '../report.ts';

export interface ExecScenarioOptions {
  simUrl: string;
  gatewayUrl: string;
  quick: boolean;
}

/** Longest wait for any one event (an echo, the start, the exit); past it the scenario fails. */
const WAIT_MS = 15_000;

const DIRECT = 'direct Nomad exec WebSocket';

/**
 * The subscription a terminal sends: `data` only, since `text` would repeat the bytes (and a
 * terminal must use `data` anyway, a UTF-8 character may be split across events).
 */
const EXEC_SUBSCRIPTION = /* GraphQL */ `subscription Exec($input: ExecAllocationInput!) {
  execAllocation(input: $input) {
    __typename
    ... on ExecStarted { sessionId }
    ... on ExecOutput { stream data }
    ... on ExecExited { exitCode }
  }
}`;

const EXEC_INPUT = /* GraphQL */ `mutation ExecInput($input: ExecInputInput!) { execInput(input: $input) { bytesWritten } }`;

/** Where the commands run: a running task of a running allocation. */
interface ExecTarget {
  allocId: string;
  task: string;
}

/** What a client sees of a session once it started, whichever way it goes. */
type SessionEvent = { kind: 'output'; stream: 'stdout' | 'stderr'; bytes: Buffer } | { kind: 'exited'; exitCode: number };

interface Session {
  /** The next event; rejects when the session failed or nothing came within WAIT_MS. */
  next(what: string): Promise<SessionEvent>;
  /** Writes to stdin; resolves once the bytes were handed on (gateway: once `execInput` answered). */
  write(bytes: Buffer): Promise<void>;
  /** Ends stdin. */
  closeInput(): Promise<void>;
  /** Closes the client side; the command is killed if it still runs. */
  dispose(): Promise<void>;
}

type Opener = (command: string[]) => Promise<Session>;

/** Prints, then keeps running until stdin ends, as a shell would. */
const FIRST_OUTPUT_COMMAND = ['sh', '-c', 'echo ready; exec cat'];

/** What graphql-ws hands a sink's `error` (an Error, GraphQL errors, a CloseEvent) or a socket error, as text. */
function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map((item) => (isRecord(item) ? String(item['message']) : String(item))).join('; ');
  if (isRecord(error) && typeof error['code'] === 'number') return `socket closed (${error['code']} ${String(error['reason'] ?? '')})`;
  return String(error);
}

/**
 * Events in arrival order, handed out one `next()` at a time; a failure is handed out after the
 * events before it. A head index instead of `shift()`, since a burst of output frames can pile up.
 */
class EventQueue<T> {
  #items: T[] = [];
  #head = 0;
  #failure: Error | undefined;
  #waiter: { resolve(item: T): void; reject(error: Error): void } | undefined;

  push(item: T): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(item);
      return;
    }
    this.#items.push(item);
  }

  fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }

  next(what: string): Promise<T> {
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as T;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve(item);
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`));
      }, WAIT_MS);
      this.#waiter = {
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Finding where to run

/** {@link findTarget}, asked again for up to 20 s while the cluster's allocations are still starting. */
async function settledTarget(simUrl: string): Promise<ExecTarget> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    try {
      return await findTarget(simUrl);
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/** A running allocation's task, a service job's in the default namespace when there is one (those stay up). */
async function findTarget(simUrl: string): Promise<ExecTarget> {
  const response = await fetch(`${simUrl}/v1/allocations?namespace=*`);
  if (!response.ok) throw new Error(`GET ${simUrl}/v1/allocations?namespace=* answered ${response.status}`);
  const body: unknown = await response.json();
  if (!Array.isArray(body)) throw new Error('GET /v1/allocations did not answer a JSON array');
  const candidates: (ExecTarget & { rank: number })[] = [];
  for (const stub of body) {
    if (!isRecord(stub) || typeof stub['ID'] !== 'string' || stub['ClientStatus'] !== 'running') continue;
    const states = isRecord(stub['TaskStates']) ? stub['TaskStates'] : {};
    const running = Object.keys(states)
      .filter((task) => {
        const state = states[task];
        return isRecord(state) && state['State'] === 'running';
      })
      .sort();
    const [task] = running;
    if (task === undefined) continue;
    const rank = (stub['JobType'] === 'service' ? 0 : 2) + (stub['Namespace'] === 'default' ? 0 : 1);
    candidates.push({ allocId: stub['ID'], task, rank });
  }
  candidates.sort((a, b) => a.rank - b.rank || a.allocId.localeCompare(b.allocId));
  const [best] = candidates;
  if (best === undefined) throw new Error(`no running allocation with a running task among the ${body.length} the simulator lists`);
  return { allocId: best.allocId, task: best.task };
}

// ---------------------------------------------------------------------------------------------
// Direct: Nomad's exec WebSocket protocol

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** One server frame as an event; undefined for frames that carry none (`{"stdout":{"close":true}}`). */
function decodeDirectFrame(text: string): SessionEvent | undefined {
  const frame: unknown = JSON.parse(text);
  if (!isRecord(frame)) throw new Error(`a direct exec frame is not a JSON object: ${text.slice(0, 200)}`);
  if (frame['exited'] === true) {
    const result = isRecord(frame['result']) ? frame['result'] : {};
    // Nomad leaves `exit_code` out for 0.
    const code = result['exit_code'] ?? 0;
    if (typeof code !== 'number') throw new Error(`a direct exit frame has a non-numeric exit_code: ${text}`);
    return { kind: 'exited', exitCode: code };
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const part = frame[stream];
    if (isRecord(part) && typeof part['data'] === 'string') return { kind: 'output', stream, bytes: Buffer.from(part['data'], 'base64') };
  }
  return undefined;
}

/** `ws://<sim>/v1/client/allocation/<id>/exec`, resolved once the socket is open. */
async function openDirect(simUrl: string, target: ExecTarget, command: string[]): Promise<Session> {
  const url = new URL(`/v1/client/allocation/${target.allocId}/exec`, simUrl.replace(/^http/, 'ws'));
  url.searchParams.set('task', target.task);
  url.searchParams.set('command', JSON.stringify(command));
  url.searchParams.set('tty', 'false');
  const socket = new WebSocket(url);
  const events = new EventQueue<SessionEvent>();
  socket.on('message', (data: RawData) => {
    try {
      const event = decodeDirectFrame(rawBytes(data).toString('utf8'));
      if (event !== undefined) events.push(event);
    } catch (error) {
      events.fail(error instanceof Error ? error : new Error(String(error)));
    }
  });
  socket.on('error', (error: Error) => events.fail(new Error(`direct exec socket: ${error.message}`)));
  // After the exit frame the simulator (as Nomad) drops the connection: that failure is never read.
  socket.on('close', (code: number, reason: Buffer) => events.fail(new Error(`the direct exec socket closed (${code} ${reason.toString('utf8')}) before the command exited`)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms opening ${url.pathname}`)), WAIT_MS);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`cannot open the direct exec socket ${url.pathname}: ${error.message}`));
    });
  });
  const send = (frame: unknown): Promise<void> =>
    new Promise((resolve, reject) => {
      socket.send(JSON.stringify(frame), (error) => (error === undefined || error === null ? resolve() : reject(error)));
    });
  return {
    next: (what) => events.next(what),
    write: (bytes) => send({ stdin: { data: bytes.toString('base64') } }),
    closeInput: () => send({ stdin: { close: true } }),
    dispose: async () => {
      socket.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Through the gateway: graphql-ws

/** One `execAllocation` result as an event, or `started`. */
function decodeGatewayResult(result: FormattedExecutionResult<Record<string, unknown>, unknown>): SessionEvent | { kind: 'started'; sessionId: string } {
  if (result.errors !== undefined && result.errors.length > 0) throw new Error(`execAllocation: ${describeError(result.errors)}`);
  const event = result.data?.['execAllocation'];
  if (!isRecord(event)) throw new Error(`execAllocation sent no event: ${JSON.stringify(result)}`);
  const type = event['__typename'];
  if (type === 'ExecStarted' && typeof event['sessionId'] === 'string') return { kind: 'started', sessionId: event['sessionId'] };
  if (type === 'ExecOutput' && typeof event['data'] === 'string' && (event['stream'] === 'STDOUT' || event['stream'] === 'STDERR')) {
    return { kind: 'output', stream: event['stream'] === 'STDOUT' ? 'stdout' : 'stderr', bytes: Buffer.from(event['data'], 'base64') };
  }
  if (type === 'ExecExited' && typeof event['exitCode'] === 'number') return { kind: 'exited', exitCode: event['exitCode'] };
  throw new Error(`unexpected execAllocation event: ${JSON.stringify(event)}`);
}

/** One `execInput` over the session's own graphql-ws connection; checks every byte was written. */
function execInput(client: Client, input: { sessionId: string; text?: string; close?: boolean }, expectedBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let answered = false;
    client.subscribe<Record<string, unknown>>(
      { query: EXEC_INPUT, variables: { input } },
      {
        next: (result) => {
          answered = true;
          const payload = result.data?.['execInput'];
          if (result.errors !== undefined && result.errors.length > 0) reject(new Error(`execInput: ${describeError(result.errors)}`));
          else if (!isRecord(payload) || payload['bytesWritten'] !== expectedBytes) reject(new Error(`execInput answered ${JSON.stringify(result.data)}, not ${expectedBytes} bytes written`));
          else resolve();
        },
        error: (error) => reject(new Error(`execInput: ${describeError(error)}`)),
        complete: () => {
          if (!answered) reject(new Error('execInput completed without an answer'));
        },
      },
    );
  });
}

/** `execAllocation` on a new graphql-ws connection to the gateway, resolved once `ExecStarted` came. */
async function openGateway(gatewayUrl: string, target: ExecTarget, command: string[]): Promise<Session> {
  const client = createClient({ url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const events = new EventQueue<SessionEvent>();
  let onStarted: { resolve(sessionId: string): void; reject(error: Error): void } | undefined;
  const started = new Promise<string>((resolve, reject) => {
    onStarted = { resolve, reject };
  });
  const fail = (error: Error): void => {
    onStarted?.reject(error);
    events.fail(error);
  };
  client.subscribe<Record<string, unknown>>(
    { query: EXEC_SUBSCRIPTION, variables: { input: { allocationId: target.allocId, task: target.task, command } } },
    {
      next: (result) => {
        try {
          const event = decodeGatewayResult(result);
          if (event.kind === 'started') onStarted?.resolve(event.sessionId);
          else events.push(event);
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
        }
      },
      error: (error) => fail(new Error(`execAllocation: ${describeError(error)}`)),
      // The subscription completes right after ExecExited, so a completion is read only when it came early.
      complete: () => fail(new Error('execAllocation completed before ExecExited')),
    },
  );
  let timer: NodeJS.Timeout | undefined;
  let sessionId: string;
  try {
    sessionId = await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ExecStarted`)), WAIT_MS);
      }),
    ]);
  } catch (error) {
    await client.dispose();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const input = async (fields: { text?: string; close?: boolean }, bytes: number): Promise<void> => {
    try {
      await execInput(client, { sessionId, ...fields }, bytes);
    } catch (error) {
      // Fails the session too, so a wait for the echo of input that was refused ends at once.
      fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  };
  return {
    next: (what) => events.next(what),
    // Keystrokes are ASCII, so `text` carries them as the terminal sends them.
    write: (bytes) => input({ text: bytes.toString('utf8') }, bytes.length),
    closeInput: () => input({ close: true }, 0),
    dispose: async () => {
      await client.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** Reads stdout until `length` bytes came; stderr or an exit first is an error. */
async function readStdout(session: Session, length: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  while (received < length) {
    const event = await session.next(what);
    if (event.kind === 'exited') throw new Error(`the command exited (${event.exitCode}) while waiting for ${what}`);
    if (event.stream === 'stderr') throw new Error(`unexpected stderr while waiting for ${what}: ${event.bytes.toString('utf8')}`);
    chunks.push(event.bytes);
    received += event.bytes.length;
  }
  return Buffer.concat(chunks);
}

/** Reads to the exit, which must be 0 with no output left. */
async function expectCleanExit(session: Session, name: string): Promise<void> {
  const event = await session.next(`${name}'s exit`);
  if (event.kind === 'output') throw new Error(`${name}: unexpected ${event.stream} before the exit: ${event.bytes.toString('utf8').slice(0, 200)}`);
  if (event.exitCode !== 0) throw new Error(`${name}: the command exited with ${event.exitCode}`);
}

/** Milliseconds from sending one byte to `cat` until it comes back. */
async function roundTrip(session: Session, key: Buffer): Promise<number> {
  const began = performance.now();
  const written = session.write(key);
  // A refused write also fails the session, so the wait below ends; this only keeps it handled.
  written.catch(() => undefined);
  const echo = await readStdout(session, key.length, 'the echo of a keystroke');
  const elapsed = performance.now() - began;
  await written;
  if (!echo.equals(key)) throw new Error(`cat echoed ${JSON.stringify(echo.toString('latin1'))}, not ${JSON.stringify(key.toString('latin1'))}`);
  return elapsed;
}

/** The nth keystroke: a letter, so an echo out of order would show. */
function keystroke(n: number): Buffer {
  return Buffer.from([0x61 + (n % 26)]);
}

async function keystrokeEcho(direct: Opener, gateway: Opener, quick: boolean): Promise<Figure[]> {
  const warmup = quick ? 2 : 20;
  const measured = quick ? 10 : 300;
  const sides = [
    { name: 'direct', open: direct, samples: [] as number[] },
    { name: 'gateway', open: gateway, samples: [] as number[] },
  ];
  const sessions: Session[] = [];
  try {
    for (const side of sides) sessions.push(await side.open(['cat']));
    // One keystroke on each side in turn, so a slow moment of the host falls on both.
    for (let n = 0; n < warmup + measured; n++) {
      for (const [i, side] of sides.entries()) {
        const ms = await roundTrip(sessions[i] as Session, keystroke(n));
        if (n >= warmup) side.samples.push(ms);
      }
    }
    for (const [i, side] of sides.entries()) {
      const session = sessions[i] as Session;
      await session.closeInput();
      await expectCleanExit(session, `cat (${side.name})`);
    }
  } finally {
    await Promise.all(sessions.map((session) => session.dispose()));
  }
  const [viaDirect, viaGateway] = sides.map((side) => side.samples.sort((a, b) => a - b));
  if (viaDirect === undefined || viaGateway === undefined) throw new Error('a side was not measured');
  const scenario = 'exec keystroke echo';
  const how = `one byte written to \`cat\` until it comes back, ${measured} keystrokes per side after ${warmup} warm-up, alternating; gateway: execInput over the session's graphql-ws connection`;
  return [
    figure({
      scenario,
      measure: 'p50 round trip',
      unit: 'ms',
      value: percentile(viaGateway, 0.5),
      baseline: { name: DIRECT, value: percentile(viaDirect, 0.5) },
      target: { of: 'ratio', op: '<=', bound: 2 },
      note: `${how}. Target: the gateway at ≥ 0.5× the direct speed, i.e. at most twice the direct round trip`,
    }),
    figure({ scenario, measure: 'p99 round trip', unit: 'ms', value: percentile(viaGateway, 0.99), baseline: { name: DIRECT, value: percentile(viaDirect, 0.99) }, note: how }),
  ];
}

interface BulkRun {
  bytes: number;
  seconds: number;
}

/** Runs `command` from the request to its exit, counting stdout bytes. */
async function bulkRun(open: Opener, command: string[], name: string): Promise<BulkRun> {
  const began = performance.now();
  const session = await open(command);
  try {
    let bytes = 0;
    for (;;) {
      const event = await session.next(`${name}'s output`);
      if (event.kind === 'exited') {
        if (event.exitCode !== 0) throw new Error(`${name}: ${command.join(' ')} exited with ${event.exitCode}`);
        return { bytes, seconds: (performance.now() - began) / 1000 };
      }
      if (event.stream === 'stderr') throw new Error(`${name}: unexpected stderr: ${event.bytes.toString('utf8').slice(0, 200)}`);
      bytes += event.bytes.length;
    }
  } finally {
    await session.dispose();
  }
}

async function bulkOutput(direct: Opener, gateway: Opener, quick: boolean): Promise<Figure[]> {
  const size = quick ? 200_000 : 20_000_000;
  const rounds = 2;
  const command = ['head', '-c', String(size), '/dev/zero'];
  // An untimed run each first, so neither side pays for its first compile.
  const warm = ['head', '-c', '200000', '/dev/zero'];
  await bulkRun(direct, warm, 'direct warm-up');
  await bulkRun(gateway, warm, 'gateway warm-up');
  const runs = { direct: [] as BulkRun[], gateway: [] as BulkRun[] };
  for (let round = 0; round < rounds; round++) {
    runs.direct.push(await bulkRun(direct, command, 'direct'));
    runs.gateway.push(await bulkRun(gateway, command, 'gateway'));
  }
  for (const [side, list] of Object.entries(runs)) {
    for (const run of list) {
      if (run.bytes !== size) throw new Error(`${side}: ${run.bytes} bytes of output, not the ${size} that ${command.join(' ')} writes`);
    }
  }
  const megabytesPerSecond = (list: BulkRun[]): number => list.reduce((sum, run) => sum + run.bytes, 0) / 1e6 / list.reduce((sum, run) => sum + run.seconds, 0);
  return [
    figure({
      scenario: 'exec bulk output',
      measure: `throughput, ${size / 1e6} MB to stdout`,
      unit: 'MB/s',
      value: megabytesPerSecond(runs.gateway),
      baseline: { name: DIRECT, value: megabytesPerSecond(runs.direct) },
      target: { of: 'ratio', op: '>=', bound: 0.5 },
      note: `\`${command.join(' ')}\`, ${rounds} runs per side alternating, from the request (a new connection each) to the exit, stdout bytes counted (equal on both sides); 1 MB = 10^6 B`,
    }),
  ];
}

/**
 * Milliseconds from the request (a new connection) to the first output of a command that keeps
 * running, as a shell does: a command that exits at once would not show the gateway's start grace
 * (it ends the grace early).
 */
async function firstOutput(open: Opener, name: string): Promise<number> {
  const began = performance.now();
  const session = await open(FIRST_OUTPUT_COMMAND);
  try {
    const output = await readStdout(session, 'ready\n'.length, `${name}'s first output`);
    const elapsed = performance.now() - began;
    if (output.toString('utf8') !== 'ready\n') throw new Error(`${name}: the command wrote ${JSON.stringify(output.toString('utf8'))}`);
    await session.closeInput();
    await expectCleanExit(session, `the first-output command (${name})`);
    return elapsed;
  } finally {
    await session.dispose();
  }
}

/** What opening a terminal feels like; it also says how much of a bulk run's time is the start. */
async function sessionStart(direct: Opener, gateway: Opener, quick: boolean): Promise<Figure[]> {
  const count = quick ? 2 : 10;
  const samples = { direct: [] as number[], gateway: [] as number[] };
  for (let n = 0; n < count; n++) {
    samples.direct.push(await firstOutput(direct, 'direct'));
    samples.gateway.push(await firstOutput(gateway, 'gateway'));
  }
  const p50 = (list: number[]): number => percentile([...list].sort((a, b) => a - b), 0.5);
  return [
    figure({
      scenario: 'exec session start',
      measure: 'p50 request to first output',
      unit: 'ms',
      value: p50(samples.gateway),
      baseline: { name: DIRECT, value: p50(samples.direct) },
      note: `\`${FIRST_OUTPUT_COMMAND.join(' ')}\` on a new connection, ${count} per side alternating; the gateway reads the allocation, then waits up to its start grace (250 ms by default) for Nomad's refusal before ExecStarted, and the output waits for ExecStarted`,
    }),
  ];
}

export async function runExecScenarios(options: ExecScenarioOptions): Promise<Figure[]> {
  const target = await settledTarget(options.simUrl);
  const direct: Opener = (command) => openDirect(options.simUrl, target, command);
  const gateway: Opener = (command) => openGateway(options.gatewayUrl, target, command);
  return [
    ...(await keystrokeEcho(direct, gateway, options.quick)),
    ...(await bulkOutput(direct, gateway, options.quick)),
    ...(await sessionStart(direct, gateway, options.quick)),
  ];
}
