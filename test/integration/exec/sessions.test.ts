import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient, type Client } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNomadExecTransport } from '../../../src/exec/nomad-transport.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import type { Backbone } from '../../../src/pubsub/backbone.ts';
import { createInProcessBackbone } from '../../../src/pubsub/in-process-backbone.ts';
import { createInProcessLeaseStore } from '../../../src/pubsub/lease.ts';
import { createRedisBackbone } from '../../../src/pubsub/redis-backbone.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createWatchHub } from '../../../src/watch/watch-hub.ts';
import { createExecBroker, type ExecLimits } from '../../../src/exec/broker.ts';
import { createApp, type App } from '../../../src/app.ts';
import { createContextFactory } from '../../../src/context.ts';
import { schema, subgraphSchema } from '../../../src/schema/index.ts';
import { createAsyncQueue, eventually, type AsyncQueue } from '../../helpers/async-queue.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';

/**
 * Exec sessions through GraphQL against the simulator, whose exec runs real processes: output
 * over graphql-ws, input by mutation to any replica (two gateways in this process sharing a
 * backbone: in-process, or a real Redis the test kills and restarts).
 */

const EXEC = /* GraphQL */ `subscription Exec($input: ExecAllocationInput!) {
  execAllocation(input: $input) {
    __typename
    ... on ExecStarted { sessionId }
    ... on ExecOutput { stream data text }
    ... on ExecExited { exitCode }
  }
}`;

const INPUT = /* GraphQL */ `mutation In($input: ExecInputInput!) { execInput(input: $input) { sessionId bytesWritten } }`;

interface Gateway {
  url: string;
  app: App;
}

async function startGateway(nomad: NomadClient, simUrl: string, backbone: Backbone, replicaId: string, limits?: Partial<ExecLimits>): Promise<Gateway> {
  const logger = pino({ level: 'silent' });
  const exec = createExecBroker({ transport: createNomadExecTransport({ address: simUrl }), nomad, backbone, replicaId, logger, limits });
  const hub = createWatchHub({ nomad, backbone, leases: createInProcessLeaseStore(), replicaId, logger });
  const app = createApp({
    schema,
    subgraphSchema,
    createContext: createContextFactory({ nomad, defaultToken: undefined, live: hub, exec }),
    readinessChecks: [],
    logger,
  });
  const { url } = await app.start(0);
  return {
    url,
    app: {
      start: app.start,
      stop: async () => {
        await app.stop();
        await exec.stop();
        await hub.stop();
      },
    },
  };
}

type Event = { type: string; sessionId?: string; stream?: string; data?: string; text?: string | null; exitCode?: number; errors?: unknown[] };

function eventOf(result: unknown): Event {
  const r = asRecord(result);
  if (r['errors'] !== undefined) return { type: 'errors', errors: asArray(r['errors']) };
  const e = asRecord(asRecord(r['data'])['execAllocation']);
  return {
    type: String(e['__typename']),
    sessionId: e['sessionId'] === undefined ? undefined : String(e['sessionId']),
    stream: e['stream'] === undefined ? undefined : String(e['stream']),
    data: e['data'] === undefined ? undefined : String(e['data']),
    text: e['text'] === undefined ? undefined : (e['text'] as string | null),
    exitCode: typeof e['exitCode'] === 'number' ? e['exitCode'] : undefined,
  };
}

function codeOf(event: Event): unknown {
  const [error] = (event.errors ?? []).map(asRecord);
  return asRecord(error?.['extensions'])['code'];
}

async function graphqlPost(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { 'x-nomad-token': token }) },
    body: JSON.stringify({ query, variables }),
  });
  return asRecord(await response.json());
}

function processRunning(marker: string): boolean {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false; // pgrep exits 1 when nothing matches
  }
}

describe('exec sessions over GraphQL, on one replica and through another', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let backbone: Backbone;
  let a: Gateway;
  let b: Gateway;
  let allocId = '';
  const clients: Client[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'empty', acl: true, timing: { schedulerMs: 5, clientMs: 5 } });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    allocId = allocations[0]?.ID ?? '';
    await sim.cluster.idle();
    nomad = createNomadClient({ address: sim.url });
    backbone = createInProcessBackbone();
    a = await startGateway(nomad, sim.url, backbone, 'replica-a');
    b = await startGateway(nomad, sim.url, backbone, 'replica-b');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await a.app.stop();
    await b.app.stop();
    await backbone.close();
    await nomad.close();
    await sim.stop();
  });

  const management = (): string => sim.acl.managementToken.SecretID;

  function run(gateway: Gateway, command: string[], token = management(), extra: Record<string, unknown> = {}) {
    const client = createClient({ url: `${gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { 'X-Nomad-Token': token } });
    clients.push(client);
    const events: AsyncQueue<Event> = createAsyncQueue();
    const done = createAsyncQueue<string>();
    client.subscribe(
      { query: EXEC, variables: { input: { allocationId: allocId, task: 'server', command, ...extra } } },
      { next: (result) => events.push(eventOf(result)), error: (error) => done.push(`error: ${String(error)}`), complete: () => done.push('complete') },
    );
    return { client, events, done };
  }

  /** Reads output events until ExecExited; returns stdout, stderr and the exit code. */
  async function drain(events: AsyncQueue<Event>): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for (;;) {
      const event = await events.next(10_000);
      if (event.type === 'ExecOutput') (event.stream === 'STDOUT' ? out : err).push(Buffer.from(event.data ?? '', 'base64'));
      else if (event.type === 'ExecExited') return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: event.exitCode ?? -1 };
      else throw new Error(`unexpected event ${JSON.stringify(event)}`);
    }
  }

  it('should run echo hello: started, the output, exit 0, then complete', async () => {
    const { events, done } = run(a, ['echo', 'hello']);
    const started = await events.next(10_000);
    expect(started.type).toBe('ExecStarted');
    expect(started.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 random bits
    const result = await drain(events);
    expect(result.stdout.toString()).toBe('hello\n');
    expect(result.exitCode).toBe(0);
    expect(await done.next(5_000)).toBe('complete');
  });

  it('should carry stderr and a non-zero exit code', async () => {
    const { events } = run(a, ['sh', '-c', 'echo err >&2; exit 3']);
    expect((await events.next(10_000)).type).toBe('ExecStarted');
    const result = await drain(events);
    expect(result.stderr.toString()).toBe('err\n');
    expect(result.stdout.length).toBe(0);
    expect(result.exitCode).toBe(3);
  });

  it('should echo cat\'s input sent through the other replica byte for byte and in order, then exit 0 when stdin closes', async () => {
    const { events } = run(a, ['cat']);
    const started = await events.next(10_000);
    const sessionId = started.sessionId ?? '';
    const chunks = Array.from({ length: 30 }, (_, i) => Buffer.from(`line ${i} \u00e9\u2603 ${randomUUID()}\n`, 'utf8'));
    chunks.push(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a])); // not UTF-8: goes as data
    for (const chunk of chunks) {
      const answer = await graphqlPost(b.url, INPUT, { input: { sessionId, data: chunk.toString('base64') } }, management());
      expect(asRecord(asRecord(answer['data'])['execInput'])['bytesWritten']).toBe(chunk.length);
    }
    const closed = await graphqlPost(b.url, INPUT, { input: { sessionId, close: true } }, management());
    expect(asRecord(asRecord(closed['data'])['execInput'])['bytesWritten']).toBe(0);
    const result = await drain(events);
    expect(result.stdout.equals(Buffer.concat(chunks))).toBe(true);
    expect(result.exitCode).toBe(0);
  });

  it('should refuse an unknown task, an unknown allocation and a malformed id before starting', async () => {
    const unknownTask = run(a, ['echo'], management(), { task: 'nope' });
    expect(codeOf(await unknownTask.events.next(10_000))).toBe('BAD_USER_INPUT');
    const other = createClient({ url: `${a.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { 'X-Nomad-Token': management() } });
    clients.push(other);
    const results: AsyncQueue<Event> = createAsyncQueue();
    other.subscribe({ query: EXEC, variables: { input: { allocationId: randomUUID(), task: 'server', command: ['echo'] } } }, { next: (r) => results.push(eventOf(r)), error: () => undefined, complete: () => undefined });
    expect(codeOf(await results.next(10_000))).toBe('NOT_FOUND');
    other.subscribe({ query: EXEC, variables: { input: { allocationId: 'nope', task: 'server', command: ['echo'] } } }, { next: (r) => results.push(eventOf(r)), error: () => undefined, complete: () => undefined });
    expect(codeOf(await results.next(10_000))).toBe('BAD_USER_INPUT');
  });

  it('should answer FORBIDDEN to a token without alloc-exec', async () => {
    const reader = sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const { events } = run(a, ['echo', 'hi'], reader);
    expect(codeOf(await events.next(10_000))).toBe('FORBIDDEN');
  });

  it('should not let a second token write to the first token\'s session, on either replica', async () => {
    const { events } = run(a, ['cat']);
    const sessionId = (await events.next(10_000)).sessionId ?? '';
    const other = sim.acl.createToken({ namespaces: { default: { policy: 'write' } } }).SecretID;
    for (const gateway of [a, b]) {
      const answer = await graphqlPost(gateway.url, INPUT, { input: { sessionId, text: 'intrusion\n' } }, other);
      const [error] = asArray(answer['errors']).map(asRecord);
      expect(asRecord(error?.['extensions'])['code']).toBe('FORBIDDEN');
    }
    const unknown = await graphqlPost(b.url, INPUT, { input: { sessionId: 'AAAAAAAAAAAAAAAAAAAAAA', text: 'x' } }, management());
    expect(asRecord(asArray(unknown['errors']).map(asRecord)[0]?.['extensions'])['code']).toBe('EXEC_SESSION_NOT_FOUND');
    await graphqlPost(a.url, INPUT, { input: { sessionId, text: 'mine\n', close: true } }, management());
    const result = await drain(events);
    expect(result.stdout.toString()).toBe('mine\n');
  });

  it('should refuse to resize a session that has no terminal, and resize one that has', async () => {
    const RESIZE = 'mutation R($input: ExecResizeInput!) { execResize(input: $input) { sessionId } }';
    const plain = run(a, ['cat']);
    const plainId = (await plain.events.next(10_000)).sessionId ?? '';
    const refused = await graphqlPost(b.url, RESIZE, { input: { sessionId: plainId, height: 40, width: 100 } }, management());
    expect(asRecord(asArray(refused['errors']).map(asRecord)[0]?.['extensions'])['code']).toBe('FAILED_PRECONDITION');
    const tty = run(a, ['cat'], management(), { tty: true, height: 24, width: 80 });
    const ttyId = (await tty.events.next(10_000)).sessionId ?? '';
    const resized = await graphqlPost(b.url, RESIZE, { input: { sessionId: ttyId, height: 40, width: 100 } }, management());
    expect(asRecord(resized['data'])['execResize']).toEqual({ sessionId: ttyId });
    const bad = await graphqlPost(a.url, RESIZE, { input: { sessionId: ttyId, height: 0, width: 100 } }, management());
    expect(asRecord(asArray(bad['errors']).map(asRecord)[0]?.['extensions'])['code']).toBe('BAD_USER_INPUT');
  });

  it('should leave no process running when the client disconnects mid-stream', async () => {
    const marker = `exec-test-${randomUUID()}`;
    const { events, client } = run(a, ['sh', '-c', `echo ready; sleep 300; echo ${marker}`]);
    expect((await events.next(10_000)).type).toBe('ExecStarted');
    expect((await events.next(10_000)).text).toBe('ready\n');
    expect(processRunning(marker)).toBe(true);
    await client.dispose();
    await eventually(async () => !processRunning(marker), 'the command to be gone', { timeoutMs: 10_000 });
  });

  it('should pause the command\'s output, not buffer it, while the client does not read', async () => {
    const raw = new WebSocket(`${a.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: AsyncQueue<Record<string, unknown>> = createAsyncQueue();
    raw.on('message', (data) => messages.push(asRecord(JSON.parse(String(data)))));
    await new Promise((resolve) => raw.once('open', resolve));
    try {
      raw.send(JSON.stringify({ type: 'connection_init', payload: { 'X-Nomad-Token': management() } }));
      expect((await messages.next(5_000))['type']).toBe('connection_ack');
      const input = { allocationId: allocId, task: 'server', command: ['sh', '-c', 'echo $$; exec yes'] };
      raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: EXEC, variables: { input } } }));
      const started = asRecord(asRecord(asRecord((await messages.next(10_000))['payload'])['data'])['execAllocation']);
      expect(started['__typename']).toBe('ExecStarted');
      const first = asRecord(asRecord(asRecord((await messages.next(10_000))['payload'])['data'])['execAllocation']);
      const pid = Number.parseInt(String(first['text']), 10);
      raw.pause(); // stop reading: the TCP window closes, graphql-ws waits on its send, and so on upstream
      const written = (): number => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? -1);
      let last = written();
      let stable = 0;
      const deadline = Date.now() + 15_000;
      while (stable < 20 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        const now = written();
        stable = now === last ? stable + 1 : 0;
        last = now;
      }
      expect(stable).toBe(20); // `yes` is blocked on its pipe
      expect(last).toBeLessThan(64 * 1024 * 1024);
      raw.resume();
      await eventually(async () => written() > last, '`yes` to write again once the client reads', { timeoutMs: 10_000 });
    } finally {
      raw.terminate();
    }
  });

  it('should deliver 50 MB of output intact and in order, with the gateway\'s memory bounded', async () => {
    // Deterministic bytes: a counter, so any loss, duplicate or reordering changes the hash.
    const lines = 1_000_000;
    const script = `seq -w 0 ${lines - 1} | sed 's/^/${'x'.repeat(43)}/'`;
    const expected = createHash('sha256');
    for (let i = 0; i < lines; i++) expected.update(`${'x'.repeat(43)}${String(i).padStart(6, '0')}\n`);
    const { events } = run(a, ['sh', '-c', script]);
    expect((await events.next(10_000)).type).toBe('ExecStarted');
    const received = createHash('sha256');
    let bytes = 0;
    // The gateway runs in this process: its heap, sampled while the output flows, must stay far
    // below the 50 MB (67 MB as base64) it carries, which it would approach if it buffered them.
    // Measured after a full collection, so garbage not yet collected does not count.
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const used = (): number => {
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers; // Buffers live outside the heap
    };
    const baseline = used();
    let peak = 0;
    for (;;) {
      const event = await events.next(30_000);
      if (event.type === 'ExecExited') break;
      const chunk = Buffer.from(event.data ?? '', 'base64');
      bytes += chunk.length;
      received.update(chunk);
      if (bytes % (4 << 20) < chunk.length) peak = Math.max(peak, used() - baseline);
    }
    expect(bytes).toBe(lines * 50);
    expect(received.digest('hex')).toBe(expected.digest('hex'));
    expect(peak).toBeLessThan(16 * 1024 * 1024);
  }, 120_000);
});

describe('exec input through Redis while Redis restarts', () => {
  it('should refuse input clearly while Redis is down, resume after, and lose nothing that was answered', async () => {
    const redis = await startRedisServer();
    const sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    await sim.cluster.idle();
    const nomad = createNomadClient({ address: sim.url });
    const backbones: Backbone[] = [];
    for (let i = 0; i < 2; i++) {
      const publisher = await connectRedis(redis.url);
      const subscriber = await connectRedis(redis.url);
      backbones.push(createRedisBackbone({ publisher: publisher.redis, subscriber: subscriber.redis, prefix: 'exec-test:' }));
    }
    const [backboneA, backboneB] = backbones;
    if (backboneA === undefined || backboneB === undefined) throw new Error('unreachable');
    const a = await startGateway(nomad, sim.url, backboneA, 'replica-a');
    const b = await startGateway(nomad, sim.url, backboneB, 'replica-b');
    const client = createClient({ url: `${a.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const events: AsyncQueue<Event> = createAsyncQueue();
      client.subscribe(
        { query: EXEC, variables: { input: { allocationId: allocations[0]?.ID, task: 'server', command: ['cat'] } } },
        { next: (r) => events.push(eventOf(r)), error: () => undefined, complete: () => undefined },
      );
      const sessionId = (await events.next(10_000)).sessionId ?? '';
      const typed: string[] = [];
      const type = async (text: string): Promise<Record<string, unknown>> => {
        const answer = await graphqlPost(b.url, INPUT, { input: { sessionId, text } });
        if (answer['errors'] === undefined) typed.push(text);
        return answer;
      };
      expect((await type('before\n'))['errors']).toBeUndefined();
      await redis.kill('SIGKILL');
      const during = await type('during\n');
      expect(asRecord(asArray(during['errors']).map(asRecord)[0]?.['extensions'])['code']).toBe('UPSTREAM_UNAVAILABLE');
      await redis.restart();
      await eventually(async () => backboneA.connected && backboneB.connected, 'both backbones to reconnect', { timeoutMs: 15_000 });
      // The session's channel is subscribed again on A once its backbone reports the reconnect.
      await eventually(async () => (await type('after\n'))['errors'] === undefined, 'typing to resume', { timeoutMs: 15_000 });
      await graphqlPost(a.url, INPUT, { input: { sessionId, close: true } });
      const out: Buffer[] = [];
      for (;;) {
        const event = await events.next(10_000);
        if (event.type === 'ExecExited') break;
        out.push(Buffer.from(event.data ?? '', 'base64'));
      }
      expect(Buffer.concat(out).toString()).toBe(typed.join(''));
      expect(typed).toContain('after\n');
      expect(typed).not.toContain('during\n');
    } finally {
      await client.dispose();
      await a.app.stop();
      await b.app.stop();
      for (const backbone of backbones) await backbone.close();
      await nomad.close();
      await sim.stop();
    }
  }, 60_000);
});

describe('exec session limits', () => {
  it('should end a session with no input or output for the idle timeout with EXEC_IDLE_TIMEOUT, and refuse a token\'s session past its limit', async () => {
    const sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 1 });
    await sim.cluster.idle();
    const nomad = createNomadClient({ address: sim.url });
    const backbone = createInProcessBackbone();
    const gateway = await startGateway(nomad, sim.url, backbone, 'limited', { idleTimeoutMs: 400, sessionsPerToken: 1 });
    const client = createClient({ url: `${gateway.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const subscribe = () => {
        const events: AsyncQueue<Event> = createAsyncQueue();
        client.subscribe(
          { query: EXEC, variables: { input: { allocationId: allocations[0]?.ID, task: 'server', command: ['cat'] } } },
          { next: (r) => events.push(eventOf(r)), error: () => undefined, complete: () => undefined },
        );
        return events;
      };
      const first = subscribe();
      expect((await first.next(10_000)).type).toBe('ExecStarted');
      const second = subscribe();
      expect(codeOf(await second.next(10_000))).toBe('EXEC_SESSION_LIMIT');
      // Nothing typed, nothing printed: the session is ended with a clear error.
      expect(codeOf(await first.next(10_000))).toBe('EXEC_IDLE_TIMEOUT');
      // ...which frees the token's slot.
      const third = subscribe();
      expect((await third.next(10_000)).type).toBe('ExecStarted');
    } finally {
      await client.dispose();
      await gateway.app.stop();
      await backbone.close();
      await nomad.close();
      await sim.stop();
    }
  });
});
