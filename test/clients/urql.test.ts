import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { describe, expect, it } from 'vitest';
import { useGatewayStack } from '../helpers/gateway.ts';
import {
  ALLOCATIONS_PAGE_QUERY,
  DEMO_STACK,
  PAGE_SIZE,
  decodeAllocationsPage,
  expectMergedListMatchesSimulator,
  recordingFetch,
  simulatorAllocations,
  simulatorNamespacesOfJob,
  type AllocationsPage,
  type CachedAllocation,
} from './support.ts';

/**
 * urql 6 against a real gateway: Graphcache with its default keys (`id`, here the global ids) and
 * `relayPagination()` on `Query.allocations`. Each page is a cache miss sent over the platform
 * fetch; each result is the cache's merged list.
 */

const PAGE = gql(ALLOCATIONS_PAGE_QUERY);

type PageVariables = { first: number; after?: string } | { last: number; before?: string };

function newClient(url: string) {
  const recorder = recordingFetch();
  const client = new Client({
    url: `${url}/graphql`,
    fetch: recorder.fetch,
    exchanges: [cacheExchange({ resolvers: { Query: { allocations: relayPagination() } } }), fetchExchange],
  });
  return { client, sent: recorder.sent };
}

type UrqlClient = ReturnType<typeof newClient>['client'];

async function queryPage(client: UrqlClient, variables: PageVariables): Promise<AllocationsPage> {
  const result = await client.query(PAGE, variables).toPromise();
  if (result.error !== undefined) throw result.error;
  return decodeAllocationsPage(result.data);
}

/** The `payments` jobs the list's allocations point at, as job id → namespace. */
function paymentsJobs(nodes: CachedAllocation[]): Map<string, string> {
  const jobs = new Map<string, string>();
  for (const node of nodes) {
    if (node.job?.jobId === 'payments') jobs.set(node.job.id, node.job.namespace);
  }
  return jobs;
}

describe('urql with Graphcache and relayPagination', () => {
  const stack = useGatewayStack(DEMO_STACK);

  it('should merge a forward walk into exactly the simulator’s allocations, in its order', async () => {
    const stored = await simulatorAllocations(stack().sim);
    const { client, sent } = newClient(stack().url);

    let merged = await queryPage(client, { first: PAGE_SIZE });
    while (merged.pageInfo.hasNextPage) {
      const endCursor = merged.pageInfo.endCursor;
      if (endCursor === null) throw new Error('a page with a next page has no endCursor');
      merged = await queryPage(client, { first: PAGE_SIZE, after: endCursor });
    }
    expect(sent.length).toBe(Math.ceil(stored.length / PAGE_SIZE));

    expectMergedListMatchesSimulator(merged.nodes, stored);
    // Read again from the cache alone: the same list, and no request.
    const cached = await client.query(PAGE, { first: PAGE_SIZE }, { requestPolicy: 'cache-only' }).toPromise();
    expect(decodeAllocationsPage(cached.data).nodes).toEqual(merged.nodes);
    expect(sent.length).toBe(Math.ceil(stored.length / PAGE_SIZE));

    const payments = paymentsJobs(merged.nodes);
    expect([...payments.values()].sort()).toEqual(simulatorNamespacesOfJob(stack().sim, 'payments'));
  });

  it('should merge a backward walk with last/before into the same list, in the same order', async () => {
    const stored = await simulatorAllocations(stack().sim);
    const { client, sent } = newClient(stack().url);

    let merged = await queryPage(client, { last: PAGE_SIZE });
    expect(merged.pageInfo.hasNextPage).toBe(false);
    while (merged.pageInfo.hasPreviousPage) {
      const startCursor = merged.pageInfo.startCursor;
      if (startCursor === null) throw new Error('a page with a previous page has no startCursor');
      merged = await queryPage(client, { last: PAGE_SIZE, before: startCursor });
    }
    expect(sent.length).toBe(Math.ceil(stored.length / PAGE_SIZE));

    expectMergedListMatchesSimulator(merged.nodes, stored);
    const payments = paymentsJobs(merged.nodes);
    expect([...payments.values()].sort()).toEqual(simulatorNamespacesOfJob(stack().sim, 'payments'));
  });
});
