import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { type RawData } from 'ws';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { createInProcessBackbone } from '../../../src/pubsub/in-process-backbone.ts';
import { createInProcessLeaseStore } from '../../../src/pubsub/lease.ts';
import { CLOSE_TOO_SLOW, GRAPHQL_TRANSPORT_WS, type WsLimits } from '../../../src/server/graphql-ws.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createWatchHub, type WatchHub } from '../../../src/watch/watch-hub.ts';
import { watchKey } from '../../../src/watch/watch-key.ts';
import { createAsyncQueue, deferred, eventually, nextEvent, within, type AsyncQueue } from '../../helpers/async-queue.ts';
import { createGatewayApp } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { BULK_SUBSCRIPTION as BULK } from '../../helpers/bulk-subscription.ts';

/**
 * A WebSocket client that stops reading must not grow the gateway's memory. The client here is a
 * raw `ws` socket speaking graphql-transport-ws by hand, so that it can stop reading (`pause()`:
 * its TCP receive window closes, and what the gateway sends piles up in the gateway) while a
 * connection that does read goes on beside it.
 *
 * How the gateway bounds it (src/server/graphql-ws.ts): graphql-ws awaits each message's write,
 * so one operation never has more than one message unsent; what piles up is one message per
 * operation. The gateway looks at the bytes unsent on the socket before each event and on a
 * timer, and past `maxUnsentBytes` it closes the connection with 1013, cutting it off if the
 * client still reads nothing (first and third tests). A connection with a single subscription
 * never gets there (its one operation is stuck in its own write); the keep-alive drops it instead
 * (second test), since a client that does not read does not answer pings either.
 */

/** A small operation on another watch key, whose next event the test triggers when it chooses. */
const PROBE = /* GraphQL */ `subscription Probe { allocationChanges(namespace: "probe") { initial index updated { allocId clientStatus } } }`;

/** Allocations (of five tasks each) in the bulk job: one BULK event with all of them is about 0.7 MB of JSON. */
const BULK_ALLOCATIONS = 100;
/**
 * BULK operations the slow client starts after it stopped reading: about 17 MB in all, far more
 * than the kernel's socket buffers on both ends of the loopback take (about 4 to 5 MB here), so
 * many megabytes stay unsent inside the gateway.
 */
const BULK_OPERATIONS = 25;
/** The bound under test, below the 4 MiB default so the test does not depend on how much the kernel buffers. */
const MAX_UNSENT_BYTES = 1024 * 1024;

interface RawMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/**
 * A graphql-transport-ws client written by hand over `ws`: every message lands in a queue (the
 * BULK ones only counted, to keep the test's own memory small), the close in a deferred.
 */
async function openRawClient(url: string) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, GRAPHQL_TRANSPORT_WS);
  const messages: AsyncQueue<RawMessage> = createAsyncQueue();
  const closed = deferred<{ code: number; reason: string }>();
  let bulkMessages = 0;
  let bytesReceived = 0;
  socket.on('message', (data: RawData) => {
    const text = String(data);
    bytesReceived += text.length;
    if (text.startsWith('{"id":"bulk-')) {
      bulkMessages += 1;
      return;
    }
    const message = asRecord(JSON.parse(text));
    messages.push({ type: String(message['type']), id: message['id'] === undefined ? undefined : String(message['id']), payload: message['payload'] });
  });
  socket.on('close', (code, reason) => closed.resolve({ code, reason: reason.toString() }));
  socket.on('error', () => undefined); // the close that follows says what happened
  await within(5_000, 'the WebSocket to open', nextEvent(socket, 'open'));
  const send = (message: RawMessage): void => socket.send(JSON.stringify(message));
  send({ type: 'connection_init', payload: {} });
  expect((await messages.next(5_000)).type).toBe('connection_ack');
  return {
    socket,
    messages,
    closed: closed.promise,
    send,
    subscribe: (id: string, query: string) => send({ id, type: 'subscribe', payload: { query } }),
    counts: () => ({ bulkMessages, bytesReceived }),
  };
}

/** `data.allocationChanges` of a `next` message. */
function changesOf(message: RawMessage): Record<string, unknown> {
  expect(message.type, JSON.stringify(message).slice(0, 300)).toBe('next');
  return asRecord(asRecord(asRecord(message.payload)['data'])['allocationChanges']);
}

describe('a WebSocket client that stops reading', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let hub: WatchHub;
  let app: App;
  let url: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
    const tasks = ['api', 'worker', 'cache', 'proxy', 'logs'].map((name) => ({ name }));
    sim.cluster.createJob({ id: 'bulk', groups: [{ name: 'bulk', count: BULK_ALLOCATIONS, tasks }] });
    sim.cluster.createJob({ id: 'probe', namespace: 'probe', count: 2 });
    await sim.cluster.idle();
    nomad = createNomadClient({ address: sim.url });
    // The test's own hub, so it can see each watch key's subscribers.
    hub = createWatchHub({
      nomad,
      backbone: createInProcessBackbone(),
      leases: createInProcessLeaseStore(),
      replicaId: 'slow-consumer-test',
      logger: pino({ level: 'silent' }),
    });
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    await app.stop();
    await eventually(async () => hub.watches().length === 0, 'every watch to end with its subscribers');
  });

  afterAll(async () => {
    await hub.stop();
    await nomad.close();
    await sim.stop();
  });

  async function startGateway(wsLimits: Partial<WsLimits>): Promise<void> {
    await sim.cluster.idle(); // replacements of what an earlier test failed are running
    app = createGatewayApp(nomad, { hub, wsLimits });
    ({ url } = await app.start(0));
  }

  /** Local subscribers of `allocationChanges(namespace:)`, asked without a token: BULK's in `default` (it selects task states), PROBE's in `probe`. */
  function subscribersOf(namespace: 'default' | 'probe'): number {
    const key = watchKey({ kind: 'allocations', namespace, prefix: undefined, filter: undefined, taskStates: namespace === 'default' }, undefined);
    return hub.watches().find((watch) => watch.key === key)?.subscribers ?? 0;
  }

  function runningProbeAllocation(): string {
    const alloc = [...sim.store.allocs.values()].find((a) => a.Namespace === 'probe' && a.ClientStatus === 'running');
    if (alloc === undefined) throw new Error('no running allocation in namespace probe');
    return alloc.ID;
  }

  it('should close with 1013 a connection whose unsent events pass the bound, while serving a normal client beside it', async () => {
    await startGateway({ maxUnsentBytes: MAX_UNSENT_BYTES });
    const slow = await openRawClient(url);
    sockets.push(slow.socket);

    // The probe's first message is read, so its operation is free to send again; then the client stops reading.
    slow.subscribe('probe', PROBE);
    expect(changesOf(await slow.messages.next(5_000))['initial']).toBe(true);
    slow.socket.pause();
    expect(slow.socket.isPaused).toBe(true);
    for (let i = 0; i < BULK_OPERATIONS; i++) slow.subscribe(`bulk-${i}`, BULK);
    await eventually(async () => subscribersOf('default') === BULK_OPERATIONS, `${BULK_OPERATIONS} BULK subscribers`, { timeoutMs: 10_000 });

    // A normal client on its own connection: it subscribes after every BULK operation, so by the
    // time its initial BULK event has arrived the slow client's ones have all been sent (into
    // the kernel, and what does not fit, into the gateway's unsent buffer).
    const normal = await openRawClient(url);
    sockets.push(normal.socket);
    normal.subscribe('probe', PROBE);
    normal.subscribe('default', BULK.replace('subscription Bulk', 'subscription Normal'));
    const normalFirst = [await normal.messages.next(10_000), await normal.messages.next(10_000)];
    expect(normalFirst.map((m) => m.id).sort()).toEqual(['default', 'probe']);
    const normalBulk = changesOf(normalFirst.find((m) => m.id === 'default') ?? { type: 'none' });
    expect(asArray(normalBulk['added'])).toHaveLength(BULK_ALLOCATIONS);

    // The probe's next event: its operation is the only one of the slow connection free to send,
    // it finds megabytes unsent before it, and the gateway closes the connection.
    const target = runningProbeAllocation();
    sim.cluster.failTask(target, 'server');
    const normalChange = changesOf(await normal.messages.next(5_000));
    expect(asArray(normalChange['updated']).map((a) => asRecord(a)['allocId'])).toContain(target);
    // ...and it still answers other requests: a query over HTTP.
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `query($id: ID!) { allocation(id: $id) { allocId clientStatus } }`, variables: { id: target } }),
    });
    expect(asRecord(asRecord(await response.json())['data'])['allocation']).toEqual({ allocId: target, clientStatus: 'FAILED' });
    expect(slow.counts().bulkMessages).toBe(0);

    // The slow client reads again: what the gateway had queued (the close frame last), then 1013.
    slow.socket.resume();
    const closed = await within(15_000, 'the slow connection to be closed', slow.closed);
    expect(closed.code).toBe(CLOSE_TOO_SLOW);
    expect(closed.reason).toBe(`Client too slow: more than ${MAX_UNSENT_BYTES} bytes of events unsent`);
    // Everything queued before the close still arrived (every BULK initial event, megabytes), but
    // not the probe's event: the gateway closed the connection instead of sending it.
    const { bulkMessages, bytesReceived } = slow.counts();
    expect(bulkMessages).toBe(BULK_OPERATIONS);
    expect(bytesReceived).toBeGreaterThan(BULK_OPERATIONS * 500_000);
    expect(slow.messages.pending).toEqual([]);

    // The closed connection's subscriptions are gone from their watches; the normal client's stay.
    await eventually(async () => subscribersOf('default') === 1 && subscribersOf('probe') === 1, 'the slow connection’s subscribers to leave', {
      timeoutMs: 5_000,
    });
    expect(normal.socket.readyState).toBe(WebSocket.OPEN);
    const again = runningProbeAllocation();
    sim.cluster.failTask(again, 'server');
    let seen: unknown[] = [];
    while (!seen.includes(again)) seen = asArray(changesOf(await normal.messages.next(5_000))['updated']).map((a) => asRecord(a)['allocId']);
  }, 60_000);

  it('should drop a connection with one stalled subscription when it misses a keep-alive pong, and release its subscriber', async () => {
    await startGateway({ keepAliveMs: 300 });
    const slow = await openRawClient(url);
    sockets.push(slow.socket);
    slow.subscribe('bulk-0', BULK);
    await eventually(async () => slow.counts().bulkMessages === 1, 'the initial BULK event');
    const normal = await openRawClient(url);
    sockets.push(normal.socket);
    normal.subscribe('probe', PROBE);
    expect(changesOf(await normal.messages.next(5_000))['initial']).toBe(true);

    slow.socket.pause();
    // Events keep coming for the stalled subscription; a paused client answers no ping either.
    const target = runningProbeAllocation();
    sim.cluster.failTask(target, 'server');
    const [bulkTarget] = [...sim.store.allocs.values()].filter((a) => a.Namespace === 'default' && a.ClientStatus === 'running');
    if (bulkTarget === undefined) throw new Error('no running bulk allocation');
    sim.cluster.failTask(bulkTarget.ID, 'api');
    // The gateway terminates the socket (no close frame), and its subscriber leaves the watch at once.
    await eventually(async () => subscribersOf('default') === 0, 'the stalled subscriber to leave', { timeoutMs: 5_000 });
    // Pings every 300 ms kept the normal client, which answers them, connected and served.
    expect(normal.socket.readyState).toBe(WebSocket.OPEN);
    const change = changesOf(await normal.messages.next(5_000));
    expect(asArray(change['updated']).map((a) => asRecord(a)['allocId'])).toContain(target);

    slow.socket.resume();
    const closed = await within(5_000, 'the slow connection to end', slow.closed);
    expect(closed.code).toBe(1006); // abnormal closure: the gateway terminated the TCP connection
  }, 30_000);

  it('should cut off a client that reads nothing while many subscriptions pile up unsent, and release them all', async () => {
    // Keep-alive far away: only the unsent-bytes watch can end this connection.
    await startGateway({ maxUnsentBytes: MAX_UNSENT_BYTES, keepAliveMs: 120_000 });
    const slow = await openRawClient(url);
    sockets.push(slow.socket);
    slow.socket.pause();
    for (let i = 0; i < BULK_OPERATIONS; i++) slow.subscribe(`bulk-${i}`, BULK);
    await eventually(async () => subscribersOf('default') === BULK_OPERATIONS, `${BULK_OPERATIONS} BULK subscribers`, { timeoutMs: 10_000 });
    // No event after the initial ones: the close comes from the bytes already unsent. The close
    // frame waits behind them, so a client that reads nothing is cut off after a grace period.
    await eventually(async () => subscribersOf('default') === 0, 'every subscription of the slow connection to end', { timeoutMs: 15_000 });
    expect(slow.counts().bulkMessages).toBe(0);
  }, 30_000);
});
