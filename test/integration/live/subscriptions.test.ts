import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeGlobalId } from '../../../src/schema/global-id.ts';
import { createAsyncQueue, within, type AsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/**
 * Subscriptions on one replica (live views in-process, as without REDIS_URL), through the clients
 * frontends use: graphql-ws's own client and graphql-sse's, against a gateway over the simulator.
 */

const CHANGES = `subscription Changes($namespace: String) {
  allocationChanges(namespace: $namespace) {
    initial index nomadReachable removed
    added { id allocId clientStatus }
    updated { allocId clientStatus taskStates { name state restarts } }
  }
}`;

interface ChangesEvent {
  initial: boolean;
  index: string;
  nomadReachable: boolean;
  removed: string[];
  added: { allocId: string; clientStatus: string }[];
  updated: { allocId: string; clientStatus: string }[];
}

function changesOf(result: unknown): ChangesEvent {
  const data = asRecord(asRecord(result)['data']);
  const event = asRecord(data['allocationChanges']);
  const allocs = (key: string) =>
    asArray(event[key]).map((a) => {
      const r = asRecord(a);
      return { allocId: String(r['allocId']), clientStatus: String(r['clientStatus']) };
    });
  return {
    initial: event['initial'] === true,
    index: String(event['index']),
    nomadReachable: event['nomadReachable'] === true,
    removed: asArray(event['removed']).map(String),
    added: allocs('added'),
    updated: allocs('updated'),
  };
}

/** Subscribes with a graphql-ws client; every message (or the error/completion) lands in a queue. */
function subscribeWs(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: AsyncQueue<unknown> = createAsyncQueue();
  const ended = createAsyncQueue<{ error?: unknown }>();
  const dispose = client.subscribe({ query, variables }, { next: results.push, error: (error) => ended.push({ error }), complete: () => ended.push({}) });
  return { results, ended, dispose };
}

describe('subscriptions over graphql-ws and SSE on one replica', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startGatewayStack({ simulator: { scenario: 'empty' } });
    stack.sim.cluster.createJob({ id: 'web', count: 3 });
    stack.sim.cluster.createJob({ id: 'api', namespace: 'prod', count: 2 });
    await stack.sim.cluster.idle();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await stack.stop();
  });

  function wsClient(token?: string): Client {
    const client = createWsClient({
      url: `${stack.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      connectionParams: token === undefined ? {} : { 'X-Nomad-Token': token },
    });
    clients.push(client);
    return client;
  }

  function defaultAllocIds(): string[] {
    return [...stack.sim.store.allocs.values()].filter((a) => a.Namespace === 'default').map((a) => a.ID).sort();
  }

  async function blockingQueriesDrainTo(count: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (stack.sim.blockingInFlight() > count) {
      if (Date.now() > deadline) throw new Error(`still ${stack.sim.blockingInFlight()} blocking queries parked`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('should send the whole matching set first, then exactly what changed at each index', async () => {
    const { results } = subscribeWs(wsClient(), CHANGES, { namespace: 'default' });
    const first = changesOf(await results.next(5_000));
    expect(first.initial).toBe(true);
    expect(first.nomadReachable).toBe(true);
    expect(first.added.map((a) => a.allocId).sort()).toEqual(defaultAllocIds());

    const [target] = defaultAllocIds();
    if (target === undefined) throw new Error('no allocation');
    stack.sim.cluster.failTask(target, 'server');
    const change = changesOf(await results.next(5_000));
    expect(change.initial).toBe(false);
    expect(BigInt(change.index)).toBeGreaterThan(BigInt(first.index));
    const touched = [...change.added, ...change.updated].map((a) => a.allocId);
    expect(touched).toContain(target);
    expect(change.updated.find((a) => a.allocId === target)?.clientStatus).toBe(stack.sim.store.allocs.get(target)?.ClientStatus.toUpperCase());
  });

  it('should hold one upstream blocking query for many subscribers of one question, and abort it when the last leaves', async () => {
    await blockingQueriesDrainTo(0);
    const subscriptions = Array.from({ length: 20 }, () => subscribeWs(wsClient(), CHANGES, { namespace: 'prod' }));
    for (const s of subscriptions) expect(changesOf(await s.results.next(5_000)).initial).toBe(true);
    const deadline = Date.now() + 5_000;
    while (stack.sim.blockingInFlight() < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stack.sim.blockingInFlight()).toBe(1);
    for (const s of subscriptions) s.dispose();
    await blockingQueriesDrainTo(0);
  });

  it('should ask Nomad for task states only for subscriptions that select them, each question on its own watch', async () => {
    const lists: (string | null)[] = [];
    const record = (req: IncomingMessage): void => {
      const url = new URL(req.url ?? '/', stack.url);
      if (url.pathname === '/v1/allocations' && url.searchParams.get('namespace') === 'prod') lists.push(url.searchParams.get('task_states'));
    };
    stack.sim.server.on('request', record);
    const readsBefore = stack.sim.requestCount('GET /v1/allocation/:id');
    try {
      const addedOf = (result: unknown) => asArray(asRecord(asRecord(asRecord(result)['data'])['allocationChanges'])['added']).map(asRecord);
      const lean = subscribeWs(wsClient(), 'subscription { allocationChanges(namespace: "prod") { initial added { allocId clientStatus } } }');
      expect(addedOf(await lean.results.next(5_000))).toHaveLength(2);
      expect(lists.length).toBeGreaterThan(0);
      expect(new Set(lists)).toEqual(new Set(['false'])); // the first read, and the watch's blocking queries
      const full = subscribeWs(wsClient(), 'subscription { allocationChanges(namespace: "prod") { initial added { allocId ...States } } } fragment States on Allocation { taskStates { name state } }');
      const added = addedOf(await full.results.next(5_000));
      expect(added).toHaveLength(2);
      for (const alloc of added) expect(asArray(alloc['taskStates']).length).toBeGreaterThan(0);
      expect(new Set(lists)).toEqual(new Set(['false', 'true']));
      lean.dispose();
      full.dispose();
    } finally {
      stack.sim.server.off('request', record);
    }
    // The task states came with the list: no allocation was read on its own for them.
    expect(stack.sim.requestCount('GET /v1/allocation/:id')).toBe(readsBefore);
  });

  it('should send an allocation, then again after it changes, by global id', async () => {
    const [target] = defaultAllocIds();
    if (target === undefined) throw new Error('no allocation');
    const { results } = subscribeWs(wsClient(), `subscription($id: ID!) { allocation(id: $id) { allocId modifyIndex taskStates { name restarts } } }`, {
      id: encodeGlobalId({ type: 'Allocation', id: target }),
    });
    const first = asRecord(asRecord(asRecord(await results.next(5_000))['data'])['allocation']);
    expect(first['allocId']).toBe(target);
    stack.sim.cluster.failTask(target, 'server');
    const next = asRecord(asRecord(asRecord(await results.next(5_000))['data'])['allocation']);
    expect(BigInt(String(next['modifyIndex']))).toBeGreaterThan(BigInt(String(first['modifyIndex'])));
    expect(String(next['modifyIndex'])).toBe(String(stack.sim.store.allocs.get(target)?.ModifyIndex));
  });

  it('should refuse a bad argument with a coded error before any event', async () => {
    const { results } = subscribeWs(wsClient(), `subscription { allocation(id: "nope") { allocId } }`);
    const result = asRecord(await results.next(5_000));
    const [error] = asArray(result['errors']).map(asRecord);
    expect(asRecord(error?.['extensions'])['code']).toBe('BAD_USER_INPUT');
  });

  it('should serve the same subscription over SSE (distinct connections), as graphql-sse clients use it', async () => {
    const client = createSseClient({ url: `${stack.url}/graphql`, retryAttempts: 0 });
    const results: AsyncQueue<unknown> = createAsyncQueue();
    const dispose = client.subscribe({ query: CHANGES, variables: { namespace: 'default' } }, { next: results.push, error: () => undefined, complete: () => undefined });
    try {
      const first = changesOf(await results.next(5_000));
      expect(first.added.map((a) => a.allocId).sort()).toEqual(defaultAllocIds());
      const [, target] = defaultAllocIds();
      if (target === undefined) throw new Error('no allocation');
      stack.sim.cluster.failTask(target, 'server');
      const change = changesOf(await results.next(5_000));
      expect([...change.added, ...change.updated].map((a) => a.allocId)).toContain(target);
    } finally {
      dispose();
      client.dispose();
    }
  });

  it('should refuse a WebSocket upgrade without the graphql-transport-ws subprotocol, and any other upgrade, with a clear HTTP error', async () => {
    const upgrade = (headers: Record<string, string>) =>
      within(
        5_000,
        'the refusal',
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(`${stack.url}/graphql`, { headers: { connection: 'Upgrade', ...headers } });
          req.on('response', (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('upgrade', () => reject(new Error('upgraded')));
          req.on('error', reject);
          req.end();
        }),
      );
    const key = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', upgrade: 'websocket' };
    const legacy = await upgrade({ ...key, 'sec-websocket-protocol': 'graphql-ws' });
    expect(legacy.status).toBe(400);
    expect(legacy.body).toMatch(/graphql-transport-ws/);
    const none = await upgrade(key);
    expect(none.status).toBe(400);
    const h2c = await upgrade({ upgrade: 'h2c' });
    expect(h2c.status).toBe(400);
    expect(h2c.body).toMatch(/Only WebSocket upgrades/);
  });
});

describe('subscriptions under ACLs', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startGatewayStack({ simulator: { scenario: 'empty', acl: true } });
    stack.sim.cluster.createJob({ id: 'web', count: 2 });
    stack.sim.cluster.createJob({ id: 'api', namespace: 'prod', count: 2 });
    await stack.sim.cluster.idle();
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await stack.stop();
  });

  function wsClient(token: string): Client {
    const client = createWsClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${token}` } });
    clients.push(client);
    return client;
  }

  it('should give each token only what it can read, and FORBIDDEN to a token without read-job', async () => {
    const defaultReader = stack.sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const prodReader = stack.sim.acl.createToken({ namespaces: { prod: { policy: 'read' } } }).SecretID;
    const a = subscribeWs(wsClient(defaultReader), CHANGES, { namespace: '*' });
    const b = subscribeWs(wsClient(prodReader), CHANGES, { namespace: '*' });
    const namespaceOf = (id: string) => stack.sim.store.allocs.get(id)?.Namespace;
    const seenA = changesOf(await a.results.next(5_000)).added.map((x) => namespaceOf(x.allocId));
    const seenB = changesOf(await b.results.next(5_000)).added.map((x) => namespaceOf(x.allocId));
    expect(new Set(seenA)).toEqual(new Set(['default']));
    expect(new Set(seenB)).toEqual(new Set(['prod']));

    const denied = subscribeWs(wsClient(prodReader), CHANGES, { namespace: 'default' });
    const result = asRecord(await denied.results.next(5_000));
    const [error] = asArray(result['errors']).map(asRecord);
    expect(asRecord(error?.['extensions'])['code']).toBe('FORBIDDEN');
    expect(result['data'] ?? null).toBeNull();
  });

  it('should end a subscription with FORBIDDEN when Nomad stops accepting its token', async () => {
    const secret = stack.sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const { results, ended } = subscribeWs(wsClient(secret), CHANGES, { namespace: 'default' });
    expect(changesOf(await results.next(5_000)).initial).toBe(true);
    stack.sim.acl.deleteToken(secret);
    // The parked blocking query answers on the next change; the request after it is refused.
    const [target] = [...stack.sim.store.allocs.values()].filter((a) => a.Namespace === 'default');
    if (target === undefined) throw new Error('no allocation');
    stack.sim.cluster.failTask(target.ID, 'server');
    let refused: Record<string, unknown> | undefined;
    while (refused === undefined) {
      const result = asRecord(await results.next(10_000));
      if (result['errors'] !== undefined) refused = result;
    }
    const [error] = asArray(refused['errors']).map(asRecord);
    expect(asRecord(error?.['extensions'])['code']).toBe('FORBIDDEN');
    expect(await ended.next(5_000)).toEqual({});
  });
});

describe('the per-replica subscription limit', () => {
  it('should refuse one subscription more than the replica serves with TOO_MANY_SUBSCRIPTIONS, and admit again once one ends', async () => {
    const stack = await startGatewayStack({ simulator: { scenario: 'empty' }, maxSubscriptions: 3 });
    const client = createWsClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      stack.sim.cluster.createJob({ id: 'web', count: 1 });
      await stack.sim.cluster.idle();
      const admitted = [0, 1, 2].map(() => subscribeWs(client, CHANGES, { namespace: 'default' }));
      for (const s of admitted) expect(changesOf(await s.results.next(5_000)).initial).toBe(true);
      const refused = subscribeWs(client, CHANGES, { namespace: 'default' });
      const result = asRecord(await refused.results.next(5_000));
      const [error] = asArray(result['errors']).map(asRecord);
      expect(asRecord(error?.['extensions'])).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', maximum: 3 });
      admitted[0]?.dispose();
      // Once the first one has ended, there is room again (the end reaches the hub asynchronously).
      let again: Record<string, unknown> | undefined;
      for (let attempt = 0; attempt < 50 && again === undefined; attempt++) {
        const next = subscribeWs(client, CHANGES, { namespace: 'default' });
        const first = asRecord(await next.results.next(5_000));
        if (first['errors'] === undefined) again = first;
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(again === undefined ? undefined : changesOf(again).initial).toBe(true);
    } finally {
      await client.dispose();
      await stack.stop();
    }
  });
});
