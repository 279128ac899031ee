import { ApolloClient, HttpLink, InMemoryCache, NetworkStatus, gql, type NormalizedCacheObject, type ObservableQuery } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asRecord } from '../helpers/http.ts';
import {
  ALLOCATIONS_PAGE_QUERY,
  DEMO_STACK,
  PAGE_SIZE,
  decodeAllocationsPage,
  expectMergedListMatchesSimulator,
  recordingFetch,
  simulatorAllocations,
  simulatorNamespacesOfJob,
  str,
  type AllocationsPage,
} from './support.ts';

/**
 * Apollo Client 4 against a real gateway: InMemoryCache with its default keys (`__typename` +
 * `id`, here the global ids) and `relayStylePagination()` on `Query.allocations`, fed page by
 * page with `fetchMore` over HttpLink and the platform fetch.
 */

const PAGE = gql(ALLOCATIONS_PAGE_QUERY);

function newClient(url: string) {
  const recorder = recordingFetch();
  const cache = new InMemoryCache({ typePolicies: { Query: { fields: { allocations: relayStylePagination() } } } });
  const client = new ApolloClient({ link: new HttpLink({ uri: `${url}/graphql`, fetch: recorder.fetch }), cache });
  return { client, cache, sent: recorder.sent };
}

type Client = ReturnType<typeof newClient>['client'];

/** The merged list the cache answers the page query with: the paging variables are not part of the field's key. */
function mergedList(client: Client, variables: { first: number } | { last: number }): AllocationsPage {
  return decodeAllocationsPage(client.readQuery({ query: PAGE, variables }));
}

/**
 * The first settled result of a watched query that `accept`s, decoded. A new subscriber gets the
 * current result first, then later ones: Apollo 4 hands a watched query the merged list after
 * `fetchMore` has resolved, not before.
 */
function settledPage(query: ObservableQuery<unknown>, accept: (page: AllocationsPage) => boolean): Promise<AllocationsPage> {
  const settled = query.pipe(
    filter((result) => result.networkStatus === NetworkStatus.ready && result.data !== undefined && accept(decodeAllocationsPage(result.data))),
  );
  return firstValueFrom(settled).then((result) => decodeAllocationsPage(result.data));
}

/** The normalized Job entries of the cache, as Apollo stores them (keyed by its default ids). */
function cachedJobs(cache: InMemoryCache): { key: string; id: string; jobId: string; namespace: string }[] {
  const extracted: NormalizedCacheObject = cache.extract();
  return Object.entries(extracted)
    .filter(([, entry]) => entry?.['__typename'] === 'Job')
    .map(([key, entry]) => {
      const fields = asRecord(entry);
      return { key, id: str(fields['id']), jobId: str(fields['jobId']), namespace: str(fields['namespace']) };
    });
}

/** Which cached Job each cached allocation's `job` field points at: allocId → Job's cache key. */
function cachedJobRefs(cache: InMemoryCache): Map<string, string> {
  const refs = new Map<string, string>();
  for (const entry of Object.values(cache.extract())) {
    if (entry?.['__typename'] !== 'Allocation') continue;
    const fields = asRecord(entry);
    refs.set(str(fields['allocId']), str(asRecord(fields['job'])['__ref']));
  }
  return refs;
}

describe('Apollo Client 4 with InMemoryCache and relayStylePagination', () => {
  const stack = useGatewayStack(DEMO_STACK);

  /** Checks shared by both walks: the two `payments` jobs are two cache entries, each allocation pointing at its own. */
  function expectJobsKeptApartByNamespace(cache: InMemoryCache): void {
    const payments = cachedJobs(cache).filter((job) => job.jobId === 'payments');
    expect(payments.map((job) => job.namespace).sort()).toEqual(simulatorNamespacesOfJob(stack().sim, 'payments'));
    expect(new Set(payments.map((job) => job.id)).size).toBe(payments.length);
    const jobKeyByNamespace = new Map(payments.map((job) => [job.namespace, job.key]));
    const refs = cachedJobRefs(cache);
    const paymentsAllocs = [...stack().sim.store.allocs.values()].filter((alloc) => alloc.JobID === 'payments');
    expect(paymentsAllocs.length).toBeGreaterThan(0);
    for (const alloc of paymentsAllocs) {
      expect(refs.get(alloc.ID), alloc.ID).toBe(jobKeyByNamespace.get(alloc.Namespace));
    }
  }

  it('should merge a forward walk with fetchMore into exactly the simulator’s allocations, in its order', async () => {
    const stored = await simulatorAllocations(stack().sim);
    const { client, cache, sent } = newClient(stack().url);
    const query = client.watchQuery({ query: PAGE, variables: { first: PAGE_SIZE } });
    const subscription = query.subscribe(() => undefined);
    try {
      let page = await settledPage(query, () => true);
      while (page.pageInfo.hasNextPage) {
        const result = await query.fetchMore({ variables: { after: page.pageInfo.endCursor } });
        page = decodeAllocationsPage(result.data);
      }
      expect(page.pageInfo.hasPreviousPage).toBe(true);
      expect(sent.length).toBe(Math.ceil(stored.length / PAGE_SIZE));

      const merged = mergedList(client, { first: PAGE_SIZE });
      expectMergedListMatchesSimulator(merged.nodes, stored);
      expect(merged.pageInfo.hasNextPage).toBe(false);
      const watched = await settledPage(query, (current) => current.nodes.length >= stored.length);
      expect(watched.nodes.map((a) => a.allocId)).toEqual(stored.map((a) => a.allocId));
      expectJobsKeptApartByNamespace(cache);
    } finally {
      subscription.unsubscribe();
      client.stop();
    }
  });

  it('should merge a backward walk with last/before into the same list, in the same order', async () => {
    const stored = await simulatorAllocations(stack().sim);
    const { client, cache, sent } = newClient(stack().url);
    const query = client.watchQuery({ query: PAGE, variables: { last: PAGE_SIZE } });
    const subscription = query.subscribe(() => undefined);
    try {
      let page = await settledPage(query, () => true);
      expect(page.pageInfo.hasNextPage).toBe(false);
      while (page.pageInfo.hasPreviousPage) {
        const result = await query.fetchMore({ variables: { last: PAGE_SIZE, before: page.pageInfo.startCursor } });
        page = decodeAllocationsPage(result.data);
      }
      expect(sent.length).toBe(Math.ceil(stored.length / PAGE_SIZE));

      const merged = mergedList(client, { last: PAGE_SIZE });
      expectMergedListMatchesSimulator(merged.nodes, stored);
      expect(merged.pageInfo.hasPreviousPage).toBe(false);
      const watched = await settledPage(query, (current) => current.nodes.length >= stored.length);
      expect(watched.nodes.map((a) => a.allocId)).toEqual(stored.map((a) => a.allocId));
      expectJobsKeptApartByNamespace(cache);
    } finally {
      subscription.unsubscribe();
      client.stop();
    }
  });
});
