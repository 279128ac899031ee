import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asRecord, getJson, send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

interface Stub {
  ID: string;
  CreateIndex: number;
  JobID: string;
  Namespace: string;
}

function stubs(body: unknown): Stub[] {
  return asArray(body).map((item) => {
    const record = asRecord(item);
    return { ID: String(record['ID']), CreateIndex: Number(record['CreateIndex']), JobID: String(record['JobID']), Namespace: String(record['Namespace']) };
  });
}

/** Follows X-Nomad-Nexttoken from the first page to the last, returning every page. */
async function walk(baseUrl: string, query: string, between?: () => void): Promise<Stub[][]> {
  const pages: Stub[][] = [];
  let token = '';
  for (let guard = 0; guard < 1000; guard++) {
    const tokenParam = token === '' ? '' : `&next_token=${encodeURIComponent(token)}`;
    const { body, headers } = await getJson(baseUrl, `/v1/allocations?${query}${tokenParam}`);
    pages.push(stubs(body));
    token = headers.get('x-nomad-nexttoken') ?? '';
    if (token === '') return pages;
    between?.();
  }
  throw new Error('paging did not end');
}

describe('simulator paging', () => {
  const sim = useSimulator();

  beforeAll(() => {
    sim().cluster.createJob({ id: 'pg-a', count: 23 });
    sim().cluster.createJob({ id: 'pg-b', namespace: 'prod', count: 17 });
    sim().cluster.createJob({ id: 'pg-c', count: 6 });
  });

  for (const namespace of ['default', '*']) {
    for (const perPage of [1, 2, 5, 7, 29, 100]) {
      it(`should walk namespace ${namespace} forwards and backwards with per_page=${perPage} with no gap or duplicate`, async () => {
        const all = stubs((await getJson(sim().url, `/v1/allocations?namespace=${encodeURIComponent(namespace)}`)).body);
        expect(all.length).toBe(namespace === '*' ? 46 : 29);
        const sorted = [...all].sort((a, b) => a.CreateIndex - b.CreateIndex || (a.ID < b.ID ? -1 : 1));
        expect(all.map((a) => a.ID)).toEqual(sorted.map((a) => a.ID));

        const forward = await walk(sim().url, `namespace=${encodeURIComponent(namespace)}&per_page=${perPage}`);
        expect(forward.flat().map((a) => a.ID)).toEqual(all.map((a) => a.ID));
        expect(forward.slice(0, -1).every((page) => page.length === perPage)).toBe(true);

        const backward = await walk(sim().url, `namespace=${encodeURIComponent(namespace)}&per_page=${perPage}&reverse=true`);
        expect(backward.flat().map((a) => a.ID)).toEqual(all.map((a) => a.ID).reverse());
      });
    }
  }

  it('should use <CreateIndex>.<ID> tokens, inclusive of the named item', async () => {
    const all = stubs((await getJson(sim().url, '/v1/allocations')).body);
    const first = await send(sim().url, '/v1/allocations?per_page=3');
    const fourth = all[3];
    expect(first.headers.get('x-nomad-nexttoken')).toBe(`${fourth?.CreateIndex}.${fourth?.ID}`);
    const resumed = stubs((await getJson(sim().url, `/v1/allocations?per_page=2&next_token=${fourth?.CreateIndex}.${fourth?.ID}`)).body);
    expect(resumed[0]?.ID).toBe(fourth?.ID);
  });

  it('should resume after a token that names no allocation at the next one in order', async () => {
    const all = stubs((await getJson(sim().url, '/v1/allocations')).body);
    const last = all[all.length - 1];
    const afterEverything = stubs((await getJson(sim().url, `/v1/allocations?next_token=${(last?.CreateIndex ?? 0) + 1}.00000000-0000-4000-8000-000000000000`)).body);
    expect(afterEverything).toEqual([]);
    const gapToken = `${all[0]?.CreateIndex}.ffffffff-ffff-4fff-bfff-ffffffffffff`;
    const resumed = stubs((await getJson(sim().url, `/v1/allocations?next_token=${gapToken}`)).body);
    expect(resumed[0]?.CreateIndex).toBeGreaterThan(all[0]?.CreateIndex ?? 0);
  });

  it('should send no next token when exactly per_page items are left', async () => {
    const response = await send(sim().url, '/v1/allocations?per_page=29');
    expect(asArray(JSON.parse(response.text))).toHaveLength(29);
    expect(response.headers.get('x-nomad-nexttoken')).toBeNull();
  });

  it('should answer a negative per_page with an empty page and the first match as next token', async () => {
    const all = stubs((await getJson(sim().url, '/v1/allocations')).body);
    const response = await send(sim().url, '/v1/allocations?per_page=-1');
    expect(response.text).toBe('[]');
    expect(response.headers.get('x-nomad-nexttoken')).toBe(`${all[0]?.CreateIndex}.${all[0]?.ID}`);
  });

  it('should compare a bare UUID token without prefix as a string, which skips everything', async () => {
    // Digits sort before letters, so a UUID starting with a letter is past every "<index>.<id>" token.
    const response = await send(sim().url, '/v1/allocations?next_token=ffffffff-0000-4000-8000-000000000000');
    expect(response.text).toBe('[]');
  });

  it('should not count filtered-out allocations toward per_page', async () => {
    const pages = await walk(sim().url, `per_page=5&filter=${encodeURIComponent('JobID == "pg-a"')}`);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
    expect(pages.flat().every((a) => a.JobID === 'pg-a')).toBe(true);
  });

  it('should order a prefix listing by ID with bare-ID tokens', async () => {
    const all = stubs((await getJson(sim().url, '/v1/allocations?namespace=*')).body);
    const counts = new Map<string, number>();
    for (const a of all) counts.set(a.ID.slice(0, 1), (counts.get(a.ID.slice(0, 1)) ?? 0) + 1);
    const [prefix] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['0'];
    // Prefixes need an even number of hex digits: widen the one-character group to its two-character prefixes.
    const expected = all
      .filter((a) => a.ID.startsWith(prefix))
      .map((a) => a.ID)
      .sort();
    const collected: string[] = [];
    for (const second of '0123456789abcdef') {
      const pages = await walk(sim().url, `namespace=*&per_page=1&prefix=${prefix}${second}`);
      const ids = pages.flat().map((a) => a.ID);
      expect(ids).toEqual([...ids].sort());
      collected.push(...ids);
    }
    expect(collected).toEqual(expected);
    const first = await send(sim().url, `/v1/allocations?namespace=*&per_page=1&prefix=${expected[0]?.slice(0, 2)}`);
    const token = first.headers.get('x-nomad-nexttoken');
    if (token !== null) expect(token).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should keep a walk gap-free and duplicate-free while allocations are being added', async () => {
    const before = stubs((await getJson(sim().url, '/v1/allocations?namespace=*')).body).map((a) => a.ID);
    let added = 0;
    const pages = await walk(sim().url, 'namespace=*&per_page=4', () => {
      added++;
      sim().cluster.createJob({ id: `growing-${added}`, count: 2 });
    });
    const seen = pages.flat().map((a) => a.ID);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, before.length)).toEqual(before);
    expect(seen.length).toBe(before.length + added * 2);
  });
});
