import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ListAllocationsOptions, NomadClient, NomadList } from '../../../src/nomad/client.ts';
import { decodeAllocation, decodeAllocListStubs } from '../../../src/nomad/decode.ts';
import { NomadHttpError } from '../../../src/nomad/errors.ts';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import type { AllocListStub, QueryMeta } from '../../../src/nomad/types.ts';
import { allocationListFetch, allocationReadFetch, PagedListError } from '../../../src/watch/allocation-sources.ts';

function fixture(name: string): unknown {
  return parseNomadJson(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));
}

const stubs = decodeAllocListStubs(fixture('nomad-allocations-list.json'));
const allocation = decodeAllocation(fixture('nomad-allocation-read.json'));

function first(allocs: readonly AllocListStub[]): AllocListStub {
  const head = allocs[0];
  if (head === undefined) throw new Error('the list fixture is empty');
  return head;
}
const template = first(stubs);

function meta(index: bigint, nextToken = ''): QueryMeta {
  return { LastIndex: index, KnownLeader: true, LastContact: 0, NextToken: nextToken };
}

/**
 * A `listAllocations` that answers with the given pages in turn and logs the options of each call
 * (a call log, not a mock: the paging rules are what is under test).
 */
function pagedList(pages: NomadList<AllocListStub>[]) {
  const calls: ListAllocationsOptions[] = [];
  const nomad: Pick<NomadClient, 'listAllocations'> = {
    listAllocations: async (options = {}) => {
      calls.push(options);
      const page = pages.shift();
      if (page === undefined) throw new Error('no more scripted pages');
      return page;
    },
  };
  return { nomad, calls };
}

const signal = new AbortController().signal;

describe('allocationListFetch', () => {
  it('should block on the first page only, read the others with their tokens, and report the first page’s index', async () => {
    const [a, b, c] = ['aaaaaaaa', 'bbbbbbbb', 'cccccccc'].map((prefix) => ({ ...template, ID: `${prefix}${template.ID.slice(8)}` }));
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable');
    const { nomad, calls } = pagedList([
      { items: [a], meta: meta(40n, '11.b') },
      { items: [b], meta: meta(41n, '12.c') },
      { items: [c], meta: meta(41n) },
    ]);
    const fetch = allocationListFetch(nomad, { namespace: 'prod', prefix: 'ab', filter: 'JobID == "web"', taskStates: false, perPage: 1, token: 't' });
    expect(await fetch({ index: 39n, waitMs: 55_000, signal })).toEqual({ index: 40n, value: [a, b, c] });
    const shared = { namespace: 'prod', prefix: 'ab', filter: 'JobID == "web"', taskStates: false, perPage: 1, token: 't', signal };
    expect(calls).toEqual([
      { ...shared, index: 39n, waitMs: 55_000 },
      { ...shared, nextToken: '11.b' },
      { ...shared, nextToken: '12.c' },
    ]);
  });

  it('should ask for pages of 500 by default and send no optional parameter it was not given', async () => {
    const { nomad, calls } = pagedList([{ items: stubs, meta: meta(9n) }]);
    expect(await allocationListFetch(nomad)({ index: 0n, waitMs: 1_000, signal })).toEqual({ index: 9n, value: stubs });
    expect(calls).toEqual([
      { namespace: undefined, prefix: undefined, filter: undefined, taskStates: undefined, token: undefined, perPage: 500, signal, index: 0n, waitMs: 1_000 },
    ]);
  });

  it('should fail with PagedListError when a later page reports a lower index (the cluster changed under the pages)', async () => {
    const { nomad } = pagedList([
      { items: [], meta: meta(40n, '11.b') },
      { items: [], meta: meta(3n) },
    ]);
    await expect(allocationListFetch(nomad, { perPage: 1 })({ index: 39n, waitMs: 1_000, signal })).rejects.toBeInstanceOf(PagedListError);
  });

  it('should fail with PagedListError instead of looping when Nomad repeats a page token', async () => {
    const { nomad } = pagedList([
      { items: [], meta: meta(40n, '11.b') },
      { items: [], meta: meta(40n, '11.b') },
      { items: [], meta: meta(40n, '11.b') },
    ]);
    await expect(allocationListFetch(nomad, { perPage: 1 })({ index: 39n, waitMs: 1_000, signal })).rejects.toThrow(/repeated the page token/);
  });

  it('should refuse a page size that is not an integer of at least 0', () => {
    const { nomad } = pagedList([]);
    expect(() => allocationListFetch(nomad, { perPage: -1 })).toThrow(RangeError);
    expect(() => allocationListFetch(nomad, { perPage: 1.5 })).toThrow(RangeError);
  });
});

describe('allocationReadFetch', () => {
  function reader(answer: () => Promise<never> | ReturnType<NomadClient['readAllocation']>) {
    const calls: unknown[][] = [];
    const nomad: Pick<NomadClient, 'readAllocation'> = {
      readAllocation: (id, options) => {
        calls.push([id, options]);
        return answer();
      },
    };
    return { nomad, calls };
  }

  it('should answer with the allocation at its index, passing index, wait, signal and token', async () => {
    const { nomad, calls } = reader(async () => ({ item: allocation, meta: meta(allocation.ModifyIndex) }));
    const fetch = allocationReadFetch(nomad, allocation.ID, { token: 't' });
    expect(await fetch({ index: 3n, waitMs: 2_000, signal })).toEqual({ index: allocation.ModifyIndex, value: allocation });
    expect(calls).toEqual([[allocation.ID, { index: 3n, waitMs: 2_000, signal, token: 't' }]]);
  });

  it('should answer null with the index of the 404 once the allocation is gone', async () => {
    const gone = new NomadHttpError({ method: 'GET', path: '/v1/allocation/x', status: 404, nomadMessage: 'alloc not found', meta: meta(77n) });
    const { nomad } = reader(async () => {
      throw gone;
    });
    expect(await allocationReadFetch(nomad, 'x')({ index: 0n, waitMs: 1_000, signal })).toEqual({ index: 77n, value: null });
  });

  it('should pass every other failure through, such as the 500 that hides an allocation the token may not read', async () => {
    const hidden = new NomadHttpError({ method: 'GET', path: '/v1/allocation/x', status: 500, nomadMessage: 'Unknown allocation "x"', meta: meta(77n) });
    const { nomad } = reader(async () => {
      throw hidden;
    });
    await expect(allocationReadFetch(nomad, 'x')({ index: 0n, waitMs: 1_000, signal })).rejects.toBe(hidden);
  });
});
