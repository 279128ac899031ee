/**
 * Adapters from the Nomad client to the loop's `fetch` (`blocking-query.ts`): the I/O edge of an
 * allocation watch. They translate one blocking request into client calls and nothing more; the
 * loop decides indexes, retries and pacing, and `diff.ts` decides what changed.
 */
import type { NomadClient } from '../nomad/client.ts';
import { NomadHttpError } from '../nomad/errors.ts';
import type { AllocListStub, Allocation } from '../nomad/types.ts';
import type { BlockingFetch } from './blocking-query.ts';

/** What an allocation list watch reads: the parameters of `GET /v1/allocations`. */
export interface AllocationListQuery {
  /** Namespace, `*` for all the token can read. @default the client's namespace (Nomad: `default`) */
  namespace?: string;
  /** ID prefix, an even number of hex characters. */
  prefix?: string;
  /** go-bexpr filter, evaluated by Nomad on the full allocation. */
  filter?: string;
  /** Ask for `TaskStates` in the stubs (`?task_states=`). @default not sent: Nomad includes them */
  taskStates?: boolean;
  /**
   * Page size (`?per_page=`); every page is read, so this bounds one response, not the result.
   * 0 reads the whole list in one response.
   * @default 500
   */
  perPage?: number;
  /** ACL token for the reads. @default the client's token */
  token?: string;
}

/** Default page size of a list watch. */
export const DEFAULT_WATCH_PAGE_SIZE = 500;

/**
 * A paged list could not be assembled into one answer: a later page reported an index below the
 * first page's (the cluster was replaced while we paged), or Nomad handed out the same page token
 * twice. The loop treats it like any failure: it reports it, backs off and reads afresh.
 */
export class PagedListError extends Error {
  override readonly name = 'PagedListError';
}

/**
 * A `fetch` for `watchBlockingQuery` that answers with every allocation stub matching `query`.
 *
 * Paging a blocking list: only the first page blocks (it carries the loop's `index` and `wait`);
 * the pages after it are plain reads following `X-Nomad-NextToken`. The answer reports the first
 * page's index. Later pages may already show writes made after it; reporting the first index
 * means the next blocking request returns at once (the allocs index has moved on) and the list is
 * read again, until one pass sees no write between its pages. Reporting the last page's index
 * instead would be wrong: a write that landed on an earlier page after that page was read would
 * be skipped until the next, unrelated write. Pages do not shift under writes, since Nomad orders
 * them by CreateIndex (by ID with a prefix), which never change; an allocation that appears twice
 * is resolved by `diffAllocations` (highest `ModifyIndex` wins).
 */
export function allocationListFetch(
  nomad: Pick<NomadClient, 'listAllocations'>,
  query: AllocationListQuery = {},
): BlockingFetch<AllocListStub[]> {
  const perPage = query.perPage ?? DEFAULT_WATCH_PAGE_SIZE;
  if (!Number.isSafeInteger(perPage) || perPage < 0) throw new RangeError(`perPage must be an integer ≥ 0, got ${perPage}`);
  return async ({ index, waitMs, signal }) => {
    const common = {
      namespace: query.namespace,
      prefix: query.prefix,
      filter: query.filter,
      taskStates: query.taskStates,
      token: query.token,
      perPage,
      signal,
    };
    const first = await nomad.listAllocations({ ...common, index, waitMs });
    const items = [...first.items];
    const seenTokens = new Set<string>();
    let nextToken = first.meta.NextToken;
    while (nextToken !== '') {
      if (seenTokens.has(nextToken)) throw new PagedListError(`Nomad repeated the page token ${JSON.stringify(nextToken)}`);
      seenTokens.add(nextToken);
      const page = await nomad.listAllocations({ ...common, nextToken });
      if (page.meta.LastIndex < first.meta.LastIndex) {
        throw new PagedListError(
          `the allocs index went back from ${first.meta.LastIndex} to ${page.meta.LastIndex} between pages`,
        );
      }
      items.push(...page.items);
      nextToken = page.meta.NextToken;
    }
    return { index: first.meta.LastIndex, value: items };
  };
}

/** Options of {@link allocationReadFetch}. */
export interface AllocationReadOptions {
  /** ACL token for the reads. @default the client's token */
  token?: string;
}

/**
 * A `fetch` for `watchBlockingQuery` that answers with one full allocation, or `null` once Nomad
 * answers 404: the allocation does not exist (yet), or was garbage-collected. A subscription to
 * one allocation ends on `null`.
 *
 * The index is the allocation's `ModifyIndex`, so only writes to this allocation wake the next
 * request. A 404 still carries `X-Nomad-Index` (the allocs table index, nomad-api.md §2), and
 * blocking on it wakes only when an allocation with this id is created. Other failures, including
 * Nomad's 500 `Unknown allocation` for an allocation the token may not read, are errors.
 */
export function allocationReadFetch(
  nomad: Pick<NomadClient, 'readAllocation'>,
  id: string,
  options: AllocationReadOptions = {},
): BlockingFetch<Allocation | null> {
  return async ({ index, waitMs, signal }) => {
    try {
      const { item, meta } = await nomad.readAllocation(id, { index, waitMs, signal, token: options.token });
      return { index: meta.LastIndex, value: item };
    } catch (error) {
      if (error instanceof NomadHttpError && error.status === 404) return { index: error.meta.LastIndex, value: null };
      throw error;
    }
  };
}
