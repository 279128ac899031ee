import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import wsTransport from '@graphql-mesh/transport-ws';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WS_LIMITS } from '../../../src/server/graphql-ws.ts';
import { createAsyncQueue, eventually, type AsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { OWNERS_SDL, startOwnersSubgraph, type OwnerRecord, type OwnersSubgraph } from './owners-subgraph.ts';

/**
 * Subscriptions through a federation router: the nomad subgraph (`/subgraph`) composed with the
 * owners subgraph and served by Hive Gateway's runtime in this process, which takes a client's
 * subscription over SSE, runs it against `/subgraph` over graphql-ws (the caller's token in the
 * `connection_init` payload) and completes each event's `Job.owner` from the owners subgraph over
 * HTTP. Simulator ← nomad gateway `/subgraph` (ws) ← Hive Gateway → owners subgraph (http).
 */

const OWNERS: OwnerRecord[] = [
  { name: 'payments', jobs: [{ namespace: 'default', jobId: 'api' }] },
  { name: 'platform', jobs: [{ namespace: 'default', jobId: 'web' }, { namespace: 'team-b', jobId: 'etl' }] },
];

function ownerOf(namespace: string, jobId: string): string | null {
  return OWNERS.find((o) => o.jobs.some((j) => j.namespace === namespace && j.jobId === jobId))?.name ?? null;
}

/**
 * What the README's gateway.config.ts sets: subscriptions to the nomad subgraph go over graphql-ws
 * to `/subgraph` (resolved against the subgraph's URL), with the caller's token headers copied
 * into the `connection_init` payload. An interpolation that finds no header yields no key.
 */
const TRANSPORT_ENTRIES = {
  nomad: {
    options: {
      subscriptions: {
        kind: 'ws',
        location: '/subgraph',
        options: {
          connectionParams: {
            'x-nomad-token': '{context.headers.x-nomad-token}',
            authorization: '{context.headers.authorization}',
          },
        },
      },
    },
  },
};

interface Router {
  /** The router's GraphQL endpoint, e.g. http://127.0.0.1:41234/graphql */
  url: string;
  /** URL of every WebSocket the router opened to a subgraph, oldest first. */
  socketsOpened: string[];
  stop(): Promise<void>;
}

/**
 * Composes the subgraphs and serves the supergraph through Hive Gateway on port 0. With
 * `subscriptionsOverWs: false` the runtime gets no `transportEntries` and sends subscriptions the
 * way it sends queries: over HTTP to `/subgraph`, where they come back as SSE.
 */
async function startRouter(subgraphs: { name: string; url: string; sdl: string }[], { subscriptionsOverWs = true } = {}): Promise<Router> {
  const composed = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
  if (composed.errors !== undefined) throw new Error(`composition failed:\n${composed.errors.map((e) => e.message).join('\n')}`);
  const socketsOpened: string[] = [];
  const gateway: GatewayRuntime = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    logging: false,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({
        'x-nomad-token': request.headers.get('x-nomad-token') ?? undefined,
        authorization: request.headers.get('authorization') ?? undefined,
      }),
    },
    ...(subscriptionsOverWs ? { transportEntries: TRANSPORT_ENTRIES } : {}),
    // The same transports the runtime would import by itself; the ws one is only watched, through
    // the hook it offers for its graphql-ws client, so the test can tell which sockets were opened.
    transports: {
      http: httpTransport,
      ws: {
        getSubgraphExecutor: (options: Parameters<typeof wsTransport.getSubgraphExecutor>[0]) =>
          wsTransport.getSubgraphExecutor(options, (client) => {
            client.on('opened', (socket) => socketsOpened.push(String(asRecord(socket)['url'])));
          }),
      },
    },
  });
  const server: Server = createServer(gateway);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    socketsOpened,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await gateway.dispose();
    },
  };
}

/** A graphql-sse client (distinct connections mode) subscribed through the router. */
interface SseSubscription {
  /** Every event (or, for an error before any, the error), oldest first. */
  results: AsyncQueue<unknown>;
  stop(): void;
}

function subscribeSse(url: string, query: string, headers: Record<string, string> = {}): SseSubscription {
  const client = createSseClient({ url, headers, retryAttempts: 0 });
  const results: AsyncQueue<unknown> = createAsyncQueue();
  const dispose = client.subscribe({ query }, { next: results.push, error: (error) => results.push({ transportError: String(error) }), complete: () => undefined });
  return {
    results,
    stop: () => {
      dispose();
      client.dispose();
    },
  };
}

const CHANGES = (namespace: string) => `subscription {
  allocationChanges(namespace: "${namespace}") {
    initial index
    added { allocId namespace job { namespace jobId owner { name } } }
    updated { allocId clientStatus }
  }
}`;

interface AddedAllocation {
  allocId: string;
  namespace: string;
  job: { namespace: string; jobId: string; owner: { name: string } | null } | null;
}

interface ChangesEvent {
  initial: boolean;
  index: string;
  added: AddedAllocation[];
  updated: { allocId: string; clientStatus: string }[];
}

function changesOf(result: unknown): ChangesEvent {
  const record = asRecord(result);
  if (record['errors'] !== undefined) throw new Error(`errors in event: ${JSON.stringify(record['errors'])}`);
  const event = asRecord(asRecord(record['data'])['allocationChanges']);
  return {
    initial: event['initial'] === true,
    index: String(event['index']),
    added: asArray(event['added']) as AddedAllocation[],
    updated: asArray(event['updated']) as ChangesEvent['updated'],
  };
}

/** Every allocation in an event carries its job, with the owner the owners subgraph gives it. */
function expectOwnersResolved(added: AddedAllocation[]): void {
  for (const alloc of added) {
    expect(alloc.job).not.toBeNull();
    expect(alloc.job?.namespace).toBe(alloc.namespace);
    expect(alloc.job?.owner?.name ?? null).toBe(ownerOf(alloc.namespace, alloc.job?.jobId ?? ''));
  }
}

async function nomadSubgraphSdl(nomadUrl: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${nomadUrl}/subgraph`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = asRecord(await response.json());
  return String(asRecord(asRecord(body['data'])['_service'])['sdl']);
}

describe('the nomad subgraph\'s subscriptions through a federation router (Hive Gateway, graphql-ws to /subgraph)', () => {
  let nomad: GatewayStack & { stop(): Promise<void> };
  let owners: OwnersSubgraph;
  let router: Router;
  const subscriptions: SseSubscription[] = [];
  const leftovers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    nomad = await startGatewayStack({ simulator: { scenario: 'empty' } });
    leftovers.push(() => nomad.stop());
    nomad.sim.cluster.createJob({ id: 'web', count: 3 });
    nomad.sim.cluster.createJob({ id: 'unowned', count: 1 });
    nomad.sim.cluster.createJob({ id: 'etl', namespace: 'team-b', type: 'batch', count: 2 });
    await nomad.sim.cluster.idle();
    owners = await startOwnersSubgraph(OWNERS);
    leftovers.push(() => owners.stop());
    router = await startRouter([
      { name: 'nomad', url: `${nomad.url}/subgraph`, sdl: await nomadSubgraphSdl(nomad.url) },
      { name: 'owners', url: owners.url, sdl: OWNERS_SDL },
    ]);
    leftovers.push(() => router.stop());
  });

  afterEach(() => {
    for (const s of subscriptions.splice(0)) s.stop();
  });

  afterAll(async () => {
    for (const stop of leftovers.reverse()) await stop();
  });

  function subscribe(query: string, headers?: Record<string, string>): SseSubscription {
    const subscription = subscribeSse(router.url, query, headers);
    subscriptions.push(subscription);
    return subscription;
  }

  function allocIdsIn(namespace: string, jobId?: string): string[] {
    return [...nomad.sim.store.allocs.values()]
      .filter((a) => a.Namespace === namespace && (jobId === undefined || a.JobID === jobId))
      .map((a) => a.ID)
      .sort();
  }

  it('should carry allocationChanges to an SSE client, each allocation with its job\'s owner from the other subgraph, then the change a failed task makes', async () => {
    const { results } = subscribe(CHANGES('default'));
    const first = changesOf(await results.next(10_000));
    expect(first.initial).toBe(true);
    expect(first.added.map((a) => a.allocId).sort()).toEqual(allocIdsIn('default'));
    expectOwnersResolved(first.added);
    expect(first.added.filter((a) => a.job?.jobId === 'web').map((a) => a.job?.owner?.name)).toEqual(['platform', 'platform', 'platform']);
    expect(first.added.find((a) => a.job?.jobId === 'unowned')?.job?.owner).toBeNull();

    // The router reached the subgraph over a WebSocket to /subgraph, not over HTTP.
    const nomadWs = `${nomad.url.replace('http://', 'ws://')}/subgraph`;
    expect(router.socketsOpened).toEqual([nomadWs]);

    const [target] = allocIdsIn('default', 'web');
    if (target === undefined) throw new Error('no allocation');
    nomad.sim.cluster.failTask(target, 'server');
    const change = changesOf(await results.next(10_000));
    expect(change.initial).toBe(false);
    expect(BigInt(change.index)).toBeGreaterThan(BigInt(first.index));
    expect(change.updated.find((a) => a.allocId === target)?.clientStatus).toBe(nomad.sim.store.allocs.get(target)?.ClientStatus.toUpperCase());
    expectOwnersResolved(change.added);
  });

  it('should resolve the owner of allocations that arrive after the first event', async () => {
    const { results } = subscribe(CHANGES('default'));
    expect(changesOf(await results.next(10_000)).initial).toBe(true);
    nomad.sim.cluster.createJob({ id: 'api', count: 2 });
    const apiAllocs: AddedAllocation[] = [];
    while (apiAllocs.length < 2) {
      const event = changesOf(await results.next(10_000));
      expectOwnersResolved(event.added);
      apiAllocs.push(...event.added.filter((a) => a.job?.jobId === 'api'));
    }
    expect(apiAllocs.map((a) => a.allocId).sort()).toEqual(allocIdsIn('default', 'api'));
    expect(apiAllocs.map((a) => a.job?.owner?.name)).toEqual(['payments', 'payments']);
  });

  it('should end the subgraph subscription, and the gateway\'s upstream blocking query, when the client leaves', async () => {
    await eventually(async () => nomad.sim.blockingInFlight() === 0, 'no blocking query in flight');
    const subscription = subscribe(CHANGES('team-b'));
    const first = changesOf(await subscription.results.next(10_000));
    expect(first.added.map((a) => a.allocId).sort()).toEqual(allocIdsIn('team-b'));
    expectOwnersResolved(first.added);
    await eventually(async () => nomad.sim.blockingInFlight() === 1, 'the watcher\'s blocking query');
    subscription.stop();
    await eventually(async () => nomad.sim.blockingInFlight() === 0, 'the blocking query to be aborted');
  });

  it('should multiplex every subscription with one token over one WebSocket, past the per-connection limit browsers get on /graphql', async () => {
    const browserLimit = WS_LIMITS.maxOperationsPerConnection; // 100 on /graphql
    const token = { 'x-nomad-token': 'one-token-for-all' };
    const opened = router.socketsOpened.length;
    const all = Array.from({ length: browserLimit + 20 }, () => subscribe(CHANGES('team-b'), token));
    const firsts = await Promise.all(all.map((s) => s.results.next(15_000).then(asRecord)));
    expect(router.socketsOpened.length).toBe(opened + 1);
    expect(firsts.filter((f) => f['errors'] === undefined && changesOf(f).initial)).toHaveLength(browserLimit + 20);
  });
});

describe('the caller\'s token through the router to the subgraph\'s subscriptions, under ACLs', () => {
  let nomad: GatewayStack & { stop(): Promise<void> };
  let owners: OwnersSubgraph;
  let router: Router;
  let defaultReader = '';
  const subscriptions: SseSubscription[] = [];
  const leftovers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    nomad = await startGatewayStack({ simulator: { scenario: 'empty', acl: true } });
    leftovers.push(() => nomad.stop());
    nomad.sim.cluster.createJob({ id: 'web', count: 2 });
    nomad.sim.cluster.createJob({ id: 'etl', namespace: 'team-b', type: 'batch', count: 2 });
    await nomad.sim.cluster.idle();
    defaultReader = nomad.sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    owners = await startOwnersSubgraph(OWNERS);
    leftovers.push(() => owners.stop());
    const management = nomad.sim.acl.managementToken.SecretID;
    router = await startRouter([
      { name: 'nomad', url: `${nomad.url}/subgraph`, sdl: await nomadSubgraphSdl(nomad.url, { 'x-nomad-token': management }) },
      { name: 'owners', url: owners.url, sdl: OWNERS_SDL },
    ]);
    leftovers.push(() => router.stop());
  });

  afterEach(() => {
    for (const s of subscriptions.splice(0)) s.stop();
  });

  afterAll(async () => {
    for (const stop of leftovers.reverse()) await stop();
  });

  function subscribe(query: string, headers?: Record<string, string>): SseSubscription {
    const subscription = subscribeSse(router.url, query, headers);
    subscriptions.push(subscription);
    return subscription;
  }

  function namespaceOf(allocId: string): string | undefined {
    return nomad.sim.store.allocs.get(allocId)?.Namespace;
  }

  async function forbidden(subscription: SseSubscription): Promise<void> {
    const result = asRecord(await subscription.results.next(10_000));
    expect(result['data'] ?? null).toBeNull();
    const codes = asArray(result['errors']).map((e) => asRecord(asRecord(e)['extensions'])['code']);
    expect(codes).toContain('FORBIDDEN');
  }

  it('should show a namespace-limited X-Nomad-Token only its namespace, and refuse the subscription without a token', async () => {
    const reader = subscribe(CHANGES('*'), { 'x-nomad-token': defaultReader });
    const seen = changesOf(await reader.results.next(10_000));
    expect(seen.added.length).toBe(2);
    expect(new Set(seen.added.map((a) => namespaceOf(a.allocId)))).toEqual(new Set(['default']));
    expectOwnersResolved(seen.added);

    // While the reader's subscription (and its WebSocket) is live, an anonymous one gets its own.
    await forbidden(subscribe(CHANGES('default')));
    expect(router.socketsOpened).toHaveLength(2);
    expect(new Set(router.socketsOpened).size).toBe(1);

    const [target] = [...nomad.sim.store.allocs.values()].filter((a) => a.Namespace === 'default').map((a) => a.ID);
    if (target === undefined) throw new Error('no allocation');
    nomad.sim.cluster.failTask(target, 'server');
    const change = changesOf(await reader.results.next(10_000));
    expect([...change.added.map((a) => a.allocId), ...change.updated.map((a) => a.allocId)]).toContain(target);
  });

  it('should forward a bearer token the same way, and refuse a namespace the token cannot read', async () => {
    const bearer = { authorization: `Bearer ${defaultReader}` };
    const reader = subscribe(CHANGES('default'), bearer);
    const seen = changesOf(await reader.results.next(10_000));
    expect(seen.added.map((a) => a.allocId).sort()).toEqual([...nomad.sim.store.allocs.values()].filter((a) => a.Namespace === 'default').map((a) => a.ID).sort());
    await forbidden(subscribe(CHANGES('team-b'), bearer));
  });

  it('should carry the subscription over HTTP (SSE from /subgraph) with the propagated headers when the router has no transportEntries', async () => {
    const overHttp = await startRouter(
      [
        { name: 'nomad', url: `${nomad.url}/subgraph`, sdl: await nomadSubgraphSdl(nomad.url, { 'x-nomad-token': nomad.sim.acl.managementToken.SecretID }) },
        { name: 'owners', url: owners.url, sdl: OWNERS_SDL },
      ],
      { subscriptionsOverWs: false },
    );
    try {
      const reader = subscribeSse(overHttp.url, CHANGES('*'), { 'x-nomad-token': defaultReader });
      subscriptions.push(reader);
      const seen = changesOf(await reader.results.next(10_000));
      expect(new Set(seen.added.map((a) => namespaceOf(a.allocId)))).toEqual(new Set(['default']));
      expectOwnersResolved(seen.added);
      const anonymous = subscribeSse(overHttp.url, CHANGES('default'));
      subscriptions.push(anonymous);
      await forbidden(anonymous);
      expect(overHttp.socketsOpened).toEqual([]);
    } finally {
      for (const s of subscriptions.splice(0)) s.stop();
      await overHttp.stop();
    }
  });
});
