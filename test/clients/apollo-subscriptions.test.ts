import { isDeepStrictEqual } from 'node:util';
import { ApolloClient, HttpLink, InMemoryCache, NetworkStatus, gql, split, type ObservableQuery, type TypedDocumentNode } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeGlobalId } from '../../src/schema/global-id.ts';
import type { Simulator } from '../../src/simulator/server.ts';
import { createAsyncQueue, type AsyncQueue } from '../helpers/async-queue.ts';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asRecord } from '../helpers/http.ts';

/**
 * Apollo Client 4 kept live the way the README shows it: a split link (subscriptions over
 * GraphQLWsLink and graphql-ws, everything else over HttpLink), a watched `allocations` query,
 * and `subscribeToMore` on `allocationChanges` whose `updateQuery` merges `added`/`updated` and
 * drops `removed`. The world then changes (a task fails, a job is created, an allocation is
 * stopped through the same client) and the watched query must end up equal to the simulator's
 * own store, with the subscription's allocations normalized onto the query's cache entries.
 */

/** A type, not an interface: Apollo's `cache.identify` takes a `StoreObject` (an index signature). */
type AllocationFields = {
  __typename: 'Allocation';
  id: string;
  allocId: string;
  clientStatus: string;
  modifyIndex: string;
};

interface AllocationsData {
  allocations: { __typename: 'AllocationConnection'; edges: { __typename: 'AllocationEdge'; node: AllocationFields }[] };
}

interface ChangesEvent {
  __typename: 'AllocationChanges';
  initial: boolean;
  index: string;
  added: AllocationFields[];
  updated: AllocationFields[];
  removed: string[];
}

interface ChangesData {
  allocationChanges: ChangesEvent;
}

interface WhereVariables {
  where?: { clientStatusIn: string[] } | null;
}

const ALLOCATIONS: TypedDocumentNode<AllocationsData, WhereVariables> = gql`
  query LiveAllocations($where: AllocationWhere) {
    allocations(namespace: "default", first: 500, where: $where) {
      edges { node { id allocId clientStatus modifyIndex } }
    }
  }
`;

const CHANGES: TypedDocumentNode<ChangesData, WhereVariables> = gql`
  subscription LiveAllocationChanges($where: AllocationWhere) {
    allocationChanges(namespace: "default", where: $where) {
      initial index removed
      added { id allocId clientStatus modifyIndex }
      updated { id allocId clientStatus modifyIndex }
    }
  }
`;

const STOP: TypedDocumentNode<{ stopAllocation: { evalId: string; allocation: AllocationFields | null } }, { id: string }> = gql`
  mutation Stop($id: ID!) {
    stopAllocation(input: { id: $id }) { evalId allocation { id allocId clientStatus modifyIndex } }
  }
`;

const ALLOCATION_FIELDS: TypedDocumentNode<AllocationFields> = gql`
  fragment LiveAllocationFields on Allocation { id allocId clientStatus modifyIndex }
`;

/**
 * The `updateQuery` an application writes: the `initial` event is the whole view (it also comes
 * again after graphql-ws reconnects), later events are merged by global id, and `removed` ids
 * leave the list.
 */
function mergeChanges(previous: AllocationsData, event: ChangesEvent): AllocationsData {
  const removed = new Set(event.removed);
  const edges = event.initial ? [] : previous.allocations.edges.filter((edge) => !removed.has(edge.node.id));
  const position = new Map(edges.map((edge, i) => [edge.node.id, i]));
  for (const node of [...event.added, ...event.updated]) {
    const edge = { __typename: 'AllocationEdge' as const, node };
    const at = position.get(node.id);
    if (at === undefined) {
      position.set(node.id, edges.length);
      edges.push(edge);
    } else {
      edges[at] = edge;
    }
  }
  return { allocations: { ...previous.allocations, edges } };
}

/** allocId → what the list shows of it; the shape both sides of a comparison take. */
type View = Record<string, { clientStatus: string; modifyIndex: string }>;

/** The truth: the simulator's own store (namespace default), optionally only some client statuses. */
function simulatorView(sim: Simulator, clientStatusIn?: readonly string[]): View {
  const view: View = {};
  for (const alloc of sim.store.allocs.values()) {
    if (alloc.Namespace !== 'default') continue;
    const clientStatus = alloc.ClientStatus.toUpperCase();
    if (clientStatusIn !== undefined && !clientStatusIn.includes(clientStatus)) continue;
    view[alloc.ID] = { clientStatus, modifyIndex: String(alloc.ModifyIndex) };
  }
  return view;
}

/** The watched query's current list, complete (Apollo 4 types partial results apart by `dataState`). */
function watchedNodes(query: ObservableQuery<AllocationsData, WhereVariables>): AllocationFields[] {
  const result = query.getCurrentResult();
  if (result.dataState !== 'complete') throw new Error(`the watched query has no complete result (${result.dataState})`);
  return result.data.allocations.edges.map((edge) => edge.node);
}

/** What the watched query shows right now; duplicates would be lost here, so they fail the test. */
function watchedView(query: ObservableQuery<AllocationsData, WhereVariables>): View {
  const view: View = {};
  for (const node of watchedNodes(query)) {
    expect(view[node.allocId], `${node.allocId} twice in the watched list`).toBeUndefined();
    view[node.allocId] = { clientStatus: node.clientStatus, modifyIndex: node.modifyIndex };
  }
  return view;
}

/** Waits (deadline, polling) until `actual()` equals `expected()`; on timeout fails with their diff. */
async function expectConverges(actual: () => View, expected: () => View, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!isDeepStrictEqual(actual(), expected())) {
    if (performance.now() > deadline) {
      expect(actual(), `still different after ${timeoutMs} ms`).toEqual(expected());
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Apollo Client 4 kept live with subscribeToMore over GraphQLWsLink', () => {
  const stack = useGatewayStack({ simulator: { scenario: 'empty' } });
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    stack().sim.cluster.createJob({ id: 'web', count: 4 });
    await stack().sim.cluster.idle();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** The README's client: subscriptions over graphql-ws, everything else over HTTP. */
  function newClient(): { client: ApolloClient; cache: InMemoryCache; ws: WsClient } {
    const { url } = stack();
    const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const link = split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      new GraphQLWsLink(ws),
      new HttpLink({ uri: `${url}/graphql` }),
    );
    const cache = new InMemoryCache();
    const client = new ApolloClient({ link, cache });
    cleanups.push(async () => {
      client.stop();
      await ws.dispose();
    });
    return { client, cache, ws };
  }

  /**
   * Watches ALLOCATIONS and keeps it current with CHANGES, as a component would; every event
   * `updateQuery` sees also lands in `events`.
   */
  async function watchLive(client: ApolloClient, variables: WhereVariables) {
    const query = client.watchQuery({ query: ALLOCATIONS, variables });
    const errors: unknown[] = [];
    const subscription = query.subscribe({ error: (error: unknown) => errors.push(error) });
    cleanups.push(() => subscription.unsubscribe());
    await firstValueFrom(query.pipe(filter((result) => result.networkStatus === NetworkStatus.ready && result.data !== undefined)));

    const events: AsyncQueue<ChangesEvent> = createAsyncQueue();
    const stop = query.subscribeToMore({
      document: CHANGES,
      variables,
      updateQuery: (_unsafePrevious, { complete, previousData, subscriptionData }) => {
        const event = subscriptionData.data.allocationChanges;
        events.push(event);
        if (!complete) return undefined;
        return mergeChanges(previousData, event);
      },
      onError: (error) => errors.push(error),
    });
    cleanups.push(stop);
    const initial = await events.next(5_000);
    expect(initial.initial).toBe(true);
    return { query, events, errors, initial };
  }

  it('should keep a watched allocations query equal to the simulator through a failure, a new job and a stop sent by the same client', async () => {
    const { sim } = stack();
    const { client, cache } = newClient();
    const { query, events, errors, initial } = await watchLive(client, {});
    expect(watchedView(query)).toEqual(simulatorView(sim));
    expect(initial.added.map((a) => a.allocId).sort()).toEqual(Object.keys(simulatorView(sim)).sort());

    const [failing, stopping] = watchedNodes(query);
    if (failing === undefined || stopping === undefined) throw new Error('the web job should have allocations');
    const before = Object.keys(simulatorView(sim)).length;

    sim.cluster.failTask(failing.allocId, 'server');
    sim.cluster.createJob({ id: 'api', count: 2 });
    // Through the watched query's own client: a mutation over HttpLink, by the global id the list gave.
    const stopped = await client.mutate({ mutation: STOP, variables: { id: stopping.id } });
    expect(stopped.data?.stopAllocation.allocation?.allocId).toBe(stopping.allocId);
    expect(stopped.data?.stopAllocation.evalId).toMatch(/^[0-9a-f-]{36}$/);
    await sim.cluster.idle();

    await expectConverges(() => watchedView(query), () => simulatorView(sim));
    // The three changes really happened, as the simulator (not the test) says.
    const truth = simulatorView(sim);
    expect(truth[failing.allocId]?.clientStatus).toBe('FAILED');
    expect(truth[stopping.allocId]?.clientStatus).toBe('COMPLETE');
    // Two replacements and the api job's two allocations came in through `added` only.
    expect(Object.keys(truth)).toHaveLength(before + 4);
    expect(errors).toEqual([]);

    // Indexes strictly increase from one event to the next.
    const seen: ChangesEvent[] = [initial, ...events.pending];
    for (let i = 1; i < seen.length; i++) expect(BigInt(seen[i]?.index ?? 0)).toBeGreaterThan(BigInt(seen[i - 1]?.index ?? 0));

    // One cache entry per allocation, shared by the query's list, the subscription's events and
    // the mutation's payload: Apollo's default key (`__typename` + global `id`).
    const failingEvents = seen.flatMap((event) => [...event.added, ...event.updated]).filter((a) => a.allocId === failing.allocId);
    expect(failingEvents.length).toBeGreaterThan(0);
    const key = cache.identify(failing);
    expect(key).toBe(`Allocation:${encodeGlobalId({ type: 'Allocation', id: failing.allocId })}`);
    for (const fromEvent of failingEvents) expect(cache.identify(fromEvent)).toBe(key);
    const stoppedAllocation = stopped.data?.stopAllocation.allocation;
    if (stoppedAllocation == null) throw new Error('stopAllocation returned no allocation');
    expect(cache.identify(stoppedAllocation)).toBe(cache.identify(stopping));
    // The entry the events wrote is the one the list points at, and it holds the latest values.
    expect(client.readFragment({ id: key, fragment: ALLOCATION_FIELDS })).toMatchObject({
      allocId: failing.allocId,
      clientStatus: 'FAILED',
      modifyIndex: truth[failing.allocId]?.modifyIndex,
    });
    const extracted = cache.extract();
    const allocationEntries = Object.entries(extracted).filter(([, entry]) => entry?.['__typename'] === 'Allocation');
    expect(allocationEntries.map(([, entry]) => asRecord(entry)['allocId']).sort()).toEqual(Object.keys(truth).sort());
    const listField = Object.entries(asRecord(extracted['ROOT_QUERY'])).find(([field]) => field.startsWith('allocations('));
    const refs = JSON.stringify(listField?.[1]);
    for (const [entryKey] of allocationEntries) expect(refs).toContain(`{"__ref":"${entryKey}"}`);
  }, 30_000);

  it('should drop from a filtered list, through `removed`, the allocations that stop matching', async () => {
    const { sim } = stack();
    await sim.cluster.idle();
    const { client } = newClient();
    const running = { where: { clientStatusIn: ['RUNNING'] } };
    const { query, events } = await watchLive(client, running);
    expect(watchedView(query)).toEqual(simulatorView(sim, ['RUNNING']));

    const [victim] = watchedNodes(query);
    if (victim === undefined) throw new Error('no running allocation');
    sim.cluster.failTask(victim.allocId, 'server');
    await sim.cluster.idle();

    await expectConverges(() => watchedView(query), () => simulatorView(sim, ['RUNNING']));
    expect(watchedView(query)[victim.allocId]).toBeUndefined();
    expect(events.pending.flatMap((event) => event.removed)).toContain(victim.id);
  }, 30_000);
});
