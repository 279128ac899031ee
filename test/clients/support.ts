import { expect } from 'vitest';
import type { Simulator } from '../../src/simulator/server.ts';
import type { GatewayStackOptions } from '../helpers/gateway.ts';
import { asArray, asRecord, getJson } from '../helpers/http.ts';

/**
 * What the client-library suites share: the demo cluster, the simulator's own view of it (the
 * expected values), and small decoders for the JSON the clients hand back.
 */

/** The demo cluster (namespaces default, prod, staging; 240 allocations; no churn). */
export const DEMO_STACK: GatewayStackOptions = { simulator: { scenario: 'demo' } };

/**
 * One page of `allocations(namespace: "*")`, written the same way for every client (Apollo and
 * urql add `__typename` themselves). The literal `"*"` keeps the page variables to the four
 * paging arguments, which every pagination helper leaves out of the cache key.
 */
export const ALLOCATIONS_PAGE_QUERY = /* GraphQL */ `
  query AllocationsPage($first: Int, $after: String, $last: Int, $before: String) {
    allocations(namespace: "*", first: $first, after: $after, last: $last, before: $before) {
      edges {
        cursor
        node {
          id
          allocId
          namespace
          jobId
          job { id jobId namespace }
        }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

export const PAGE_SIZE = 25;

/** An allocation as a client's cache holds it after a walk. */
export interface CachedAllocation {
  id: string;
  allocId: string;
  namespace: string;
  jobId: string;
  job: { id: string; jobId: string; namespace: string } | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface AllocationsPage {
  nodes: CachedAllocation[];
  pageInfo: PageInfo;
}

export function str(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`not a string: ${JSON.stringify(value)}`);
  return value;
}

export function nullableStr(value: unknown): string | null {
  return value === null || value === undefined ? null : str(value);
}

export function bool(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`not a boolean: ${JSON.stringify(value)}`);
  return value;
}

function decodeAllocation(value: unknown): CachedAllocation {
  const node = asRecord(value);
  const job = node['job'] === null ? null : asRecord(node['job']);
  return {
    id: str(node['id']),
    allocId: str(node['allocId']),
    namespace: str(node['namespace']),
    jobId: str(node['jobId']),
    job: job === null ? null : { id: str(job['id']), jobId: str(job['jobId']), namespace: str(job['namespace']) },
  };
}

/** `data.allocations` of an `AllocationsPage` result (a page, or a client's merged list), decoded from unknown. */
export function decodeAllocationsPage(data: unknown): AllocationsPage {
  const connection = asRecord(asRecord(data)['allocations']);
  const info = asRecord(connection['pageInfo']);
  return {
    nodes: asArray(connection['edges']).map((edge) => decodeAllocation(asRecord(edge)['node'])),
    pageInfo: {
      hasNextPage: bool(info['hasNextPage']),
      hasPreviousPage: bool(info['hasPreviousPage']),
      startCursor: nullableStr(info['startCursor']),
      endCursor: nullableStr(info['endCursor']),
    },
  };
}

/** What the simulator holds for one allocation. */
export interface StoredAllocation {
  allocId: string;
  namespace: string;
  jobId: string;
}

/**
 * The allocations of a namespace (`*`: every namespace) in the simulator's own (Nomad's) order:
 * its unpaged `GET /v1/allocations`, checked against its store so that the list covers exactly
 * what the store holds.
 */
export async function simulatorAllocations(sim: Simulator, namespace = '*'): Promise<StoredAllocation[]> {
  const { body } = await getJson(sim.url, `/v1/allocations?namespace=${encodeURIComponent(namespace)}`);
  const listed = asArray(body).map((stub) => str(asRecord(stub)['ID']));
  const inStore = [...sim.store.allocs.values()].filter((alloc) => namespace === '*' || alloc.Namespace === namespace).map((alloc) => alloc.ID);
  expect(new Set(listed)).toEqual(new Set(inStore));
  return listed.map((id) => {
    const stored = sim.store.allocs.get(id);
    if (stored === undefined) throw new Error(`allocation ${id} listed but not stored`);
    return { allocId: stored.ID, namespace: stored.Namespace, jobId: stored.JobID };
  });
}

/**
 * The checks every cache walk ends with: the merged list is the simulator's list (same
 * allocations, same order, no duplicates), and each allocation's job is the job of its own
 * namespace, as the simulator stores it.
 */
export function expectMergedListMatchesSimulator(merged: CachedAllocation[], stored: StoredAllocation[]): void {
  expect(merged.map((a) => a.allocId)).toEqual(stored.map((a) => a.allocId));
  const byId = new Map(stored.map((a) => [a.allocId, a]));
  for (const alloc of merged) {
    const expected = byId.get(alloc.allocId);
    expect(alloc.namespace, alloc.allocId).toBe(expected?.namespace);
    expect(alloc.job, alloc.allocId).not.toBeNull();
    expect(alloc.job?.jobId, alloc.allocId).toBe(expected?.jobId);
    expect(alloc.job?.namespace, alloc.allocId).toBe(expected?.namespace);
  }
}

/** The namespaces of the simulator's jobs with this id, sorted (the demo has `payments` in prod and staging). */
export function simulatorNamespacesOfJob(sim: Simulator, jobId: string): string[] {
  return [...sim.store.jobs.values()].filter((job) => job.ID === jobId).map((job) => job.Namespace).sort();
}

/** One request a client really sent, as its fetch saw it. */
export interface SentRequest {
  method: string;
  url: URL;
  body: string | undefined;
  status: number;
  responseText: string;
}

/**
 * The platform fetch, wrapped to record each request a client library sends and the answer it
 * got. The response handed back is an untouched copy.
 */
export function recordingFetch(): { fetch: typeof fetch; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const body = request.body === null ? undefined : await request.clone().text();
    const response = await fetch(request);
    const responseText = await response.clone().text();
    sent.push({ method: request.method, url: new URL(request.url), body, status: response.status, responseText });
    return response;
  };
  return { fetch: wrapped, sent };
}
