import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket, { type RawData } from 'ws';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { CLOSE_TOO_SLOW, GRAPHQL_TRANSPORT_WS } from '../../../src/server/graphql-ws.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createAsyncQueue, deferred, nextEvent, within, type AsyncQueue } from '../../helpers/async-queue.ts';
import { createGatewayApp } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { BULK_SUBSCRIPTION as BULK } from '../../helpers/bulk-subscription.ts';

/**
 * One event far larger than `maxUnsentBytes`, read by a client that is slow but keeps reading, must
 * reach it whole: the gateway's unsent-bytes watch (src/server/graphql-ws.ts, `watchUnsent`) looks
 * every 500 ms and closes a connection (1013) only when the backlog was over the bound at two looks
 * and the client took nothing in between. Closing at the first look over the bound cut off healthy
 * clients in the middle of a large first event, and so did judging "took nothing" by
 * `bufferedAmount` alone, which counts a message as unsent until its last byte is written: the
 * first test fails under either rule. The second shows the watch still closes a client that takes
 * nothing.
 *
 * The event is the first one of a subscription over 1 500 allocations with all their task events,
 * about 10 MB of JSON. The kernel's loopback buffers take about 4 MB of it (Linux caps a socket's
 * send buffer at 4 MB by default), so megabytes stay in the gateway, far over the 256 KiB bound.
 */

/** Allocations (of five tasks each) in the namespace: BULK's first event is about 7 KB a piece. */
const ALLOCATIONS = 1_500;
/** The bound under test. */
const MAX_UNSENT_BYTES = 256 * 1024;
/**
 * The slow reader's pace: at most this many bytes more than it has read, every {@link STEP_MS}
 * (about 4 MB/s). The megabytes left in the gateway then take about 1.5 s to go, three looks of
 * the watch, and the whole event about 2.5 s.
 */
const STEP_BYTES = 128 * 1024;
const STEP_MS = 32;
/** What the gateway logs when its watch closes a connection. */
const CLOSING_LOG = 'closing a client that does not keep up';

interface RawMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/** What the client sees, in order: each message (with its size and arrival), then the close. */
type ClientEvent = { kind: 'message'; message: RawMessage; bytes: number; at: number } | { kind: 'closed'; code: number; reason: string };

/**
 * A graphql-transport-ws client written by hand over `ws`, so that the test decides when it reads:
 * `pause()`/`resume()` stop and start reading from its TCP socket (a paused client's receive
 * window closes, and what the gateway sends stays with the gateway), and `readSteadily` reads in
 * small steps.
 */
async function openRawClient(url: string) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, GRAPHQL_TRANSPORT_WS);
  const events: AsyncQueue<ClientEvent> = createAsyncQueue();
  let bytesRead = 0;
  /** When the first byte read after the last `resetClock()` arrived. */
  let firstByteAt: number | undefined;
  /** While reading steadily: the client pauses once it has read this many bytes. */
  let allowance = Number.POSITIVE_INFINITY;
  socket.once('upgrade', (response: IncomingMessage) => {
    response.socket.on('data', (chunk: Buffer) => {
      firstByteAt ??= performance.now();
      bytesRead += chunk.length;
      if (bytesRead >= allowance) socket.pause();
    });
  });
  socket.on('message', (data: RawData) => {
    const text = String(data);
    const message = asRecord(JSON.parse(text));
    events.push({
      kind: 'message',
      message: { type: String(message['type']), id: message['id'] === undefined ? undefined : String(message['id']), payload: message['payload'] },
      bytes: text.length,
      at: performance.now(),
    });
  });
  socket.on('close', (code, reason) => events.push({ kind: 'closed', code, reason: reason.toString() }));
  socket.on('error', () => undefined); // the close that follows says what happened
  await within(5_000, 'the WebSocket to open', nextEvent(socket, 'open'));
  const send = (message: RawMessage): void => socket.send(JSON.stringify(message));
  send({ type: 'connection_init', payload: {} });
  expect(await events.next(5_000)).toMatchObject({ kind: 'message', message: { type: 'connection_ack' } });
  return {
    socket,
    events,
    send,
    /** The next message; fails the test if the next thing is the close. */
    nextMessage: async (timeoutMs: number): Promise<{ message: RawMessage; bytes: number; at: number }> => {
      const event = await events.next(timeoutMs);
      if (event.kind === 'closed') throw new Error(`the connection closed (${event.code}, ${event.reason}) where a message was expected`);
      return event;
    },
    /** Forgets when bytes came so far: `firstByteAt()` then tells when the next one does. */
    resetClock: (): void => {
      firstByteAt = undefined;
    },
    firstByteAt: (): number | undefined => firstByteAt,
    /**
     * From now on, reads at most {@link STEP_BYTES} more than it has read every {@link STEP_MS}
     * (never more for the time it had nothing to read), until the returned stop is called (or
     * the test ends).
     */
    readSteadily: (): (() => void) => {
      const step = (): void => {
        allowance = bytesRead + STEP_BYTES;
        socket.resume();
      };
      step();
      const timer = setInterval(step, STEP_MS);
      const stop = (): void => {
        clearInterval(timer);
        allowance = Number.POSITIVE_INFINITY;
        socket.resume();
      };
      onTestFinished(stop);
      return stop;
    },
  };
}

/** `data.allocationChanges` of a `next` message. */
function changesOf(message: RawMessage): Record<string, unknown> {
  expect(message.type).toBe('next');
  return asRecord(asRecord(asRecord(message.payload)['data'])['allocationChanges']);
}

describe('a WebSocket client reading one event far larger than maxUnsentBytes', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let app: App | undefined;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
    const tasks = ['api', 'worker', 'cache', 'proxy', 'logs'].map((name) => ({ name }));
    sim.cluster.createJob({ id: 'bulk', groups: [{ name: 'bulk', count: ALLOCATIONS, tasks }] });
    await sim.cluster.idle();
    nomad = createNomadClient({ address: sim.url });
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    await app?.stop();
    app = undefined;
  });

  afterAll(async () => {
    await nomad.close();
    await sim.stop();
  });

  /** A gateway with the bound under test, whose log lines land in the returned list. */
  async function startGateway(): Promise<{ url: string; logs: string[]; logged: Promise<void> }> {
    const logs: string[] = [];
    const logged = deferred();
    const logger = pino({ level: 'info' }, {
      write: (line: string) => {
        logs.push(line);
        if (line.includes(CLOSING_LOG)) logged.resolve();
      },
    });
    // Keep-alive far away: only the unsent-bytes watch can end these connections.
    app = createGatewayApp(nomad, { wsLimits: { maxUnsentBytes: MAX_UNSENT_BYTES, keepAliveMs: 120_000 }, logger });
    const { url } = await app.start(0);
    return { url, logs, logged: logged.promise };
  }

  it('should keep a client that reads a large event slowly but steadily, and deliver all of it', async () => {
    const { url, logs } = await startGateway();
    const client = await openRawClient(url);
    sockets.push(client.socket);
    client.resetClock();
    const stopReading = client.readSteadily();
    client.send({ id: 'bulk', type: 'subscribe', payload: { query: BULK } });

    const first = await client.nextMessage(20_000);
    stopReading();
    expect(first.message.id).toBe('bulk');
    const changes = changesOf(first.message);
    expect(changes['initial']).toBe(true);
    expect(asArray(changes['added'])).toHaveLength(ALLOCATIONS);
    // What makes this test able to fail: the event is many times the bound (and the kernel's
    // buffers), and the client took seconds over it, three looks of the watch or more, rather
    // than reading it at loopback speed between two of them.
    expect(first.bytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(first.at - (client.firstByteAt() ?? first.at)).toBeGreaterThan(1_500);

    // A close decided while the event was on its way would come right behind it, before the
    // answer to anything asked now: the connection still serves the next operation.
    client.send({ id: 'after', type: 'subscribe', payload: { query: '{ __typename }' } });
    expect((await client.nextMessage(5_000)).message).toEqual({ type: 'next', id: 'after', payload: { data: { __typename: 'Query' } } });
    expect((await client.nextMessage(5_000)).message).toEqual({ type: 'complete', id: 'after', payload: undefined });
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(logs.filter((line) => line.includes(CLOSING_LOG))).toEqual([]);
  }, 30_000);

  it('should close with 1013 a client that reads none of a large event', async () => {
    const { url, logged } = await startGateway();
    const client = await openRawClient(url);
    sockets.push(client.socket);
    client.socket.pause();
    client.resetClock();
    client.send({ id: 'bulk', type: 'subscribe', payload: { query: BULK } });

    // The watch decides while the client reads nothing (it logs as it queues the close frame)...
    await within(15_000, 'the gateway to close the connection', logged);
    expect(client.firstByteAt()).toBeUndefined();
    // ...and a client that reads again gets what was queued before the close: the whole event, then 1013.
    client.socket.resume();
    const first = await client.nextMessage(10_000);
    expect(asArray(changesOf(first.message)['added'])).toHaveLength(ALLOCATIONS);
    expect(await client.events.next(5_000)).toEqual({ kind: 'closed', code: CLOSE_TOO_SLOW, reason: `Client too slow: more than ${MAX_UNSENT_BYTES} bytes of events unsent` });
  }, 30_000);
});
