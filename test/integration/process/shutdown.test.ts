import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createClient } from 'graphql-ws';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createAsyncQueue, deferred, eventually, within } from '../../helpers/async-queue.ts';
import { startGatewayProcess, type GatewayProcess } from '../../helpers/gateway-process.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { leaseHolders, runningAlloc, soleLeaseHolder, startReplicas } from '../../helpers/live-replicas.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { startRedisServer } from '../../helpers/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';

/**
 * SIGTERM to a real gateway process (`src/main.ts`, as `npm start` runs it), over a simulator in
 * this process, a TCP proxy that holds Nomad's answers where a request must stay in flight, and a
 * real redis-server where watch leases matter. What a load balancer, a client and the other
 * replicas see while one replica goes away.
 */

const ALLOCATIONS = /* GraphQL */ `query { allocations(namespace: "*", first: 10) { edges { node { allocId } } } }`;
const CHANGES = /* GraphQL */ `subscription { allocationChanges(namespace: "default") { initial index added { allocId } updated { allocId } removed } }`;
const EXEC = /* GraphQL */ `subscription Exec($input: ExecAllocationInput!) {
  execAllocation(input: $input) { __typename ... on ExecStarted { sessionId } ... on ExecOutput { text } }
}`;

async function startSim(jobs = 1): Promise<Simulator> {
  const sim = await startSimulator({ scenario: 'empty', timing: { schedulerMs: 5, clientMs: 5 } });
  onTestFinished(() => sim.stop());
  for (let i = 0; i < jobs; i += 1) sim.cluster.createJob({ id: `web-${i}`, count: 2 });
  await sim.cluster.idle();
  return sim;
}

async function proxyTo(sim: Simulator): Promise<TcpProxy> {
  const proxy = await startTcpProxy(Number(new URL(sim.url).port));
  onTestFinished(() => proxy.close());
  return proxy;
}

function portOf(gateway: GatewayProcess): number {
  return Number(new URL(gateway.url).port);
}

/** Whether a new TCP connection to `port` is refused (nothing listens there any more). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/**
 * A request whose head is sent but for its last line break: the connection is busy with it (no
 * idle keep-alive connection the shutdown would close), so it can be finished after the signal,
 * on a connection accepted before it. `finish()` resolves with everything the server sent until
 * it closed the connection.
 */
async function startRequest(port: number, head: string): Promise<{ finish(): Promise<string> }> {
  const socket: Socket = connect(port, '127.0.0.1');
  onTestFinished(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  socket.write(head);
  return {
    finish: () => {
      socket.write('\r\n');
      return within(5_000, `the answer to ${head.split('\r\n', 1)[0]}`, closed);
    },
  };
}

function postQuery(gateway: GatewayProcess, query: string): Promise<Response> {
  return fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query }),
  });
}

function codesOf(result: unknown): unknown[] {
  return asArray(asRecord(result)['errors'] ?? []).map((e) => asRecord(asRecord(e)['extensions'])['code']);
}

/** The steps main.ts logged while shutting down, with their durations, in time order (for the report). */
function shutdownLog(gateway: GatewayProcess): string {
  return gateway.logs
    .map((line) => ({ time: Number(/"time":(\d+)/.exec(line)?.[1] ?? 0), msg: /"msg":"(shutdown: [^"]*|SIG[A-Z]+[^"]*)"/.exec(line)?.[1] }))
    .filter((entry) => entry.msg !== undefined)
    .sort((x, y) => x.time - y.time) // pino writes stdout asynchronously: lines may come out of order
    .map((entry) => entry.msg)
    .join('; ');
}

function processRunning(marker: string): boolean {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false; // pgrep exits 1 when nothing matches
  }
}

describe('a gateway process on SIGTERM', () => {
  it('should answer the queries in flight (HTTP and WebSocket) while /readyz says 503, new connections, upgrades and subscriptions are refused, then exit 0', async () => {
    const sim = await startSim();
    const proxy = await proxyTo(sim);
    const gateway = await startGatewayProcess({ nomadAddr: proxy.url, name: 'replica', env: { SHUTDOWN_TIMEOUT_MS: '10000' } });
    const port = portOf(gateway);
    // Requests a load balancer and a client began on connections accepted before the signal.
    const readyz = await startRequest(port, 'GET /readyz HTTP/1.1\r\nHost: gateway\r\n');
    const healthz = await startRequest(port, 'GET /healthz HTTP/1.1\r\nHost: gateway\r\n');
    const upgrade = await startRequest(
      port,
      `GET /graphql HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n`,
    );

    // A graphql-ws client too, with a query in flight when the signal comes.
    const ws = createAsyncQueue<string>();
    const connected = deferred();
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { connected: () => connected.resolve(), closed: (event) => ws.push(`closed ${String(asRecord(event)['code'])}`) },
    });
    onTestFinished(() => client.dispose());
    await within(5_000, 'the WebSocket connection', connected.promise);

    proxy.holdResponses();
    const query = postQuery(gateway, ALLOCATIONS);
    await eventually(async () => proxy.heldBytes() > 0, "Nomad's answer to the query, held at the proxy");
    const heldBefore = proxy.heldBytes();
    client.subscribe({ query: ALLOCATIONS }, {
      next: (result) => ws.push(`query ${asArray(asRecord(asRecord(asRecord(result)['data'])['allocations'])['edges']).length} edges`),
      error: () => ws.push('query error'),
      complete: () => ws.push('query complete'),
    });
    await eventually(async () => proxy.heldBytes() > heldBefore, "Nomad's answer to the WebSocket query, held at the proxy");
    const signalled = performance.now();
    gateway.signal('SIGTERM');
    await eventually(() => refused(port), 'new connections to be refused');
    const refusedAfter = performance.now() - signalled;

    const ready = await readyz.finish();
    expect(ready).toMatch(/^HTTP\/1\.1 503 /);
    expect(ready).toContain('shutting down'); // answered by the drain at once, not by a failing Nomad check
    expect(await healthz.finish()).toMatch(/^HTTP\/1\.1 200 /);
    const refusedUpgrade = await upgrade.finish();
    expect(refusedUpgrade).toMatch(/^HTTP\/1\.1 503 /);
    expect(refusedUpgrade).toContain('shutting down');
    expect(gateway.exited).toBe(false); // the queries still hold it
    // The socket stays open for its query, but takes no new subscription.
    const refusal = createAsyncQueue<unknown>();
    client.subscribe({ query: CHANGES }, { next: refusal.push, error: refusal.push, complete: () => undefined });
    const refusedSubscription = await refusal.next();
    expect(codesOf(refusedSubscription)).toEqual(['SHUTTING_DOWN']);

    proxy.releaseResponses();
    const response = await query;
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    const body = asRecord(await response.json());
    expect(body['errors']).toBeUndefined();
    expect(asArray(asRecord(asRecord(body['data'])['allocations'])['edges'])).toHaveLength(2);
    // The WebSocket query's answer and its `complete` come before the close, so the client does not send it again.
    expect([await ws.next(), await ws.next(), await ws.next()]).toEqual(['query 2 edges', 'query complete', 'closed 1012']);
    expect(await within(5_000, 'the exit', gateway.exit)).toEqual({ code: 0, signal: null });
    console.info(`refused new connections ${Math.round(refusedAfter)} ms after SIGTERM; exited ${Math.round(performance.now() - signalled)} ms after it (${shutdownLog(gateway)})`);
  });

  it('should close graphql-ws sockets with 1012, cut SSE streams and release its watch lease at once, so the client resumes on another replica', async () => {
    const [sim, redisServer] = await Promise.all([startSim(), startRedisServer()]);
    const leaseTtlMs = 30_000; // a lease that only a release can remove within the test's deadlines
    const [a, b] = await startReplicas(['replica-a', 'replica-b'], { nomadAddr: sim.url, redisUrl: redisServer.url, leaseTtlMs });
    if (a === undefined || b === undefined) throw new Error('unreachable');
    const { redis } = await connectRedis(redisServer.url);

    const leaseOfAGone = deferred();
    const urls: string[] = [];
    const closes = createAsyncQueue<{ code: number; reason: string }>();
    const events = createAsyncQueue<Record<string, unknown>>();
    const client = createClient({
      url: () => {
        const url = urls.length === 0 ? a.wsUrl : b.wsUrl; // the load balancer sends the reconnection elsewhere
        urls.push(url);
        return url;
      },
      webSocketImpl: WebSocket,
      retryAttempts: 3,
      // Reconnects once A's lease is gone, so B takes the key from nobody (see the README's Shutdown).
      retryWait: () => leaseOfAGone.promise,
      on: {
        closed: (event) => {
          const { code, reason } = asRecord(event);
          closes.push({ code: Number(code), reason: String(reason) });
        },
      },
    });
    onTestFinished(() => client.dispose());
    const errors: unknown[] = [];
    client.subscribe({ query: CHANGES }, { next: (result) => events.push(asRecord(asRecord(result)['data'])), error: (error) => errors.push(error), complete: () => undefined });
    const first = asRecord((await events.next(10_000))['allocationChanges']);
    expect(first['initial']).toBe(true);
    expect((await soleLeaseHolder(redis)).holder).toBe(a.replicaId);

    // An SSE subscriber too.
    const sse = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: CHANGES }),
    });
    const reader = sse.body?.getReader();
    if (reader === undefined) throw new Error('no SSE body');
    let streamed = '';
    while (!streamed.includes('"initial":true')) {
      const chunk = await within(10_000, 'the first SSE event', reader.read());
      if (chunk.done) throw new Error('the event stream ended before its first event');
      streamed += Buffer.from(chunk.value).toString('utf8');
    }
    const streamEnd = (async () => {
      try {
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) return 'ended';
          streamed += Buffer.from(chunk.value).toString('utf8');
        }
      } catch (error) {
        return `cut: ${error instanceof Error ? error.message : String(error)}`;
      }
    })();

    const signalled = performance.now();
    a.signal('SIGTERM');
    void eventually(async () => ![...(await leaseHolders(redis)).values()].includes(a.replicaId), "A's lease to go", { timeoutMs: 5_000 }).then(
      () => leaseOfAGone.resolve(),
      (error: unknown) => leaseOfAGone.reject(error),
    );
    await leaseOfAGone.promise;
    const leaseGoneAfter = performance.now() - signalled;
    const close = await closes.next(5_000);
    expect(close.code).toBe(1012);
    expect(close.reason).toContain('shutting down');
    expect(await within(5_000, 'the SSE stream to end', streamEnd)).toMatch(/^(cut|ended)/);
    expect(streamed).not.toContain('event: complete'); // a complete would end the client's subscription for good

    // The client resubscribed on B, which leads the key now: no TTL to wait for.
    const resumed = asRecord((await events.next(10_000))['allocationChanges']);
    expect(resumed['initial']).toBe(true);
    expect((await soleLeaseHolder(redis)).holder).toBe(b.replicaId);
    const takenOverAfter = performance.now() - signalled;
    const id = runningAlloc(sim);
    sim.cluster.failTask(id, 'server');
    const change = asRecord((await events.next(10_000))['allocationChanges']);
    expect(change['initial']).toBe(false);
    expect(urls).toEqual([a.wsUrl, b.wsUrl]);
    expect(errors).toEqual([]);
    expect(await within(10_000, 'the exit of A', a.exit)).toEqual({ code: 0, signal: null });
    expect(leaseGoneAfter).toBeLessThan(leaseTtlMs / 10);
    console.info(
      `lease released ${Math.round(leaseGoneAfter)} ms and taken over by B ${Math.round(takenOverAfter)} ms after SIGTERM (TTL ${leaseTtlMs} ms); A exited 0 (${shutdownLog(a)})`,
    );
  });

  it('should end an exec session with a SHUTTING_DOWN event before closing its socket with 1012, and end the command', async () => {
    const sim = await startSim();
    const gateway = await startGatewayProcess({ nomadAddr: sim.url, name: 'replica' });
    const allocId = runningAlloc(sim);
    const marker = `shutdown-test-${randomUUID()}`;
    const seen = createAsyncQueue<string>();
    const results = createAsyncQueue<unknown>();
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false, // stays connected after the subscription ends, so the close is the server's
      onNonLazyError: () => undefined,
      on: { closed: (event) => seen.push(`closed ${String(asRecord(event)['code'])}`) },
    });
    onTestFinished(() => client.dispose());
    client.subscribe(
      { query: EXEC, variables: { input: { allocationId: allocId, task: 'server', command: ['sh', '-c', `cat; echo ${marker}`] } } },
      {
        next: (result) => {
          results.push(result);
          seen.push(codesOf(result).length > 0 ? `error ${codesOf(result).join(',')}` : String(asRecord(asRecord(asRecord(result)['data'])['execAllocation'])['__typename']));
        },
        error: () => seen.push('error'),
        complete: () => seen.push('complete'),
      },
    );
    expect(await seen.next(10_000)).toBe('ExecStarted');
    expect(processRunning(marker)).toBe(true);

    const signalled = performance.now();
    gateway.signal('SIGTERM');
    expect(await seen.next(5_000)).toBe('error SHUTTING_DOWN');
    await results.next(); // the ExecStarted
    const last = asRecord(asArray(asRecord(await results.next())['errors'])[0]);
    expect(last['message']).toMatch(/shutting down.*reconnect/);
    expect(await seen.next(5_000)).toBe('complete');
    expect(await seen.next(5_000)).toBe('closed 1012');
    await eventually(async () => !processRunning(marker), 'the command to end', { timeoutMs: 5_000 });
    expect(await within(5_000, 'the exit', gateway.exit)).toEqual({ code: 0, signal: null });
    console.info(`exec session ended and process exited 0 ${Math.round(performance.now() - signalled)} ms after SIGTERM (${shutdownLog(gateway)})`);
  });

  it('should exit 0 at SHUTDOWN_TIMEOUT_MS when a request cannot finish, cutting it', async () => {
    const sim = await startSim();
    const proxy = await proxyTo(sim);
    const timeoutMs = 1_500;
    const gateway = await startGatewayProcess({ nomadAddr: proxy.url, name: 'replica', env: { SHUTDOWN_TIMEOUT_MS: String(timeoutMs) } });
    proxy.holdResponses();
    const query = postQuery(gateway, ALLOCATIONS).then(
      (response) => `answered ${response.status}`,
      (error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    await eventually(async () => proxy.heldBytes() > 0, "Nomad's answer to be held at the proxy");

    const signalled = performance.now();
    gateway.signal('SIGTERM');
    expect(await within(timeoutMs + 5_000, 'the exit', gateway.exit)).toEqual({ code: 0, signal: null });
    const elapsed = performance.now() - signalled;
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs);
    expect(elapsed).toBeLessThan(timeoutMs + 2_000);
    expect(await within(5_000, 'the query to settle', query)).toMatch(/^failed/);
    expect(gateway.logs.join('\n')).toContain(`not done after ${timeoutMs} ms (at: finish requests in flight)`);
    console.info(`held request: exited 0 ${Math.round(elapsed)} ms after SIGTERM (bound ${timeoutMs} ms)`);
  });

  it('should exit at once with 130 on a second signal', async () => {
    const sim = await startSim();
    const proxy = await proxyTo(sim);
    const gateway = await startGatewayProcess({ nomadAddr: proxy.url, name: 'replica', env: { SHUTDOWN_TIMEOUT_MS: '60000' } });
    proxy.holdResponses();
    void postQuery(gateway, ALLOCATIONS).catch(() => undefined);
    await eventually(async () => proxy.heldBytes() > 0, "Nomad's answer to be held at the proxy");
    gateway.signal('SIGTERM');
    await eventually(() => refused(portOf(gateway)), 'the shutdown to be under way');
    expect(gateway.exited).toBe(false);

    const second = performance.now();
    gateway.signal('SIGINT');
    expect(await within(5_000, 'the exit', gateway.exit)).toEqual({ code: 130, signal: null });
    const elapsed = performance.now() - second;
    expect(elapsed).toBeLessThan(2_000);
    expect(gateway.logs.join('\n')).toContain('SIGINT during the shutdown (at: finish requests in flight): exiting at once');
    console.info(`second signal: exited 130 ${Math.round(elapsed)} ms after it`);
  });
});
