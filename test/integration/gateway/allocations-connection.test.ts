import { beforeAll, describe, expect, it } from 'vitest';
import type { Allocation } from '../../../src/nomad/types.ts';
import { encodeGlobalId } from '../../../src/schema/global-id.ts';
import type { Simulator } from '../../../src/simulator/server.ts';
import { useGatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';
import { asArray, asRecord, getJson, send } from '../../helpers/http.ts';

/**
 * The `allocations` connection and `allocation(id:)` against a real gateway over a real simulator.
 * Expected results come from the simulator's own unpaged list (its order is Nomad's: CreateIndex,
 * then ID; ID alone with a prefix) or from predicates over its store, never from the gateway.
 */

const PAGE_QUERY = /* GraphQL */ `
  query Page($namespace: String, $prefix: String, $filter: String, $where: AllocationWhere, $first: Int, $after: String, $last: Int, $before: String) {
    allocations(namespace: $namespace, prefix: $prefix, filter: $filter, where: $where, first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { allocId } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

const ALLOCATION_QUERY = /* GraphQL */ `
  query One($id: ID!, $namespace: String) {
    allocation(id: $id, namespace: $namespace) { id allocId namespace jobId }
  }
`;

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

interface Page {
  ids: string[];
  cursors: string[];
  pageInfo: PageInfo;
}

interface ListArgs {
  namespace?: string;
  prefix?: string;
  filter?: string;
  where?: Record<string, unknown>;
}

type Stack = ReturnType<ReturnType<typeof useGatewayStack>>;

function nullableString(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new Error(`not a string: ${JSON.stringify(value)}`);
  return value;
}

function bool(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`not a boolean: ${JSON.stringify(value)}`);
  return value;
}

/** The connection of a successful response, narrowed from JSON. */
function pageOf(response: GraphQLResponse): Page {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  const connection = asRecord(asRecord(response.data)['allocations']);
  const edges = asArray(connection['edges']).map(asRecord);
  const info = asRecord(connection['pageInfo']);
  return {
    ids: edges.map((edge) => String(asRecord(edge['node'])['allocId'])),
    cursors: edges.map((edge) => String(edge['cursor'])),
    pageInfo: {
      hasNextPage: bool(info['hasNextPage']),
      hasPreviousPage: bool(info['hasPreviousPage']),
      startCursor: nullableString(info['startCursor']),
      endCursor: nullableString(info['endCursor']),
    },
  };
}

/** The single error of a failed response, with its code. */
function errorOf(response: GraphQLResponse): { message: string; code: unknown; extensions: Record<string, unknown> } {
  expect(response.errors, JSON.stringify(response.data)).toHaveLength(1);
  const [error] = response.errors ?? [];
  if (error === undefined) throw new Error('no error');
  return { message: error.message, code: error.extensions?.['code'], extensions: error.extensions ?? {} };
}

async function page(stack: Stack, args: ListArgs & { first?: number; after?: string; last?: number; before?: string }): Promise<Page> {
  return pageOf(await stack.graphql(PAGE_QUERY, { ...args }));
}

/** Walks every page in one direction, checking each page's own pageInfo invariants on the way. */
async function walk(stack: Stack, args: ListArgs, size: number, direction: 'forward' | 'backward'): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 2000; guard++) {
    const current =
      direction === 'forward' ? await page(stack, { ...args, first: size, after: cursor }) : await page(stack, { ...args, last: size, before: cursor });
    expect(current.pageInfo.startCursor).toBe(current.cursors[0] ?? null);
    expect(current.pageInfo.endCursor).toBe(current.cursors.at(-1) ?? null);
    pages.push(current);
    const more = direction === 'forward' ? current.pageInfo.hasNextPage : current.pageInfo.hasPreviousPage;
    if (!more) return direction === 'forward' ? pages : pages.reverse();
    cursor = (direction === 'forward' ? current.pageInfo.endCursor : current.pageInfo.startCursor) ?? undefined;
    expect(cursor).toBeDefined();
  }
  throw new Error('paging did not end');
}

/** The simulator's own unpaged answer, in its (Nomad's) order. */
async function simulatorOrder(sim: Simulator, args: { namespace?: string; prefix?: string }): Promise<string[]> {
  const params = new URLSearchParams({ namespace: args.namespace ?? 'default', task_states: 'false' });
  if (args.prefix !== undefined) params.set('prefix', args.prefix);
  const { body } = await getJson(sim.url, `/v1/allocations?${params.toString()}`);
  return asArray(body).map((item) => String(asRecord(item)['ID']));
}

function byCreateIndexThenId(a: Allocation, b: Allocation): number {
  if (a.CreateIndex !== b.CreateIndex) return a.CreateIndex < b.CreateIndex ? -1 : 1;
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/** Ids of the store's allocations matching `keep`, in Nomad's list order (all namespaces). */
function storeIds(sim: Simulator, keep: (a: Allocation) => boolean): string[] {
  return [...sim.store.allocs.values()].filter(keep).sort(byCreateIndexThenId).map((a) => a.ID);
}

/** Every page of a query, forwards, 500 at a time. */
async function allIds(stack: Stack, args: ListArgs): Promise<string[]> {
  return (await walk(stack, args, 500, 'forward')).flatMap((p) => p.ids);
}

/** A job id made of the characters an expression builder must escape. */
const AWKWARD_JOB = 'we"ird\\job`tick';
const PAGE_SIZES = [1, 2, 7, 50, 500] as const;

describe('allocations connection', () => {
  const stack = useGatewayStack();
  const sim = (): Simulator => stack().sim;
  /** The 2-hex prefixes shared by the most allocations, across namespaces and in `default`. */
  let busyPrefixAll = '';
  let busyPrefixDefault = '';

  beforeAll(async () => {
    const cluster = sim().cluster;
    for (let i = 0; i < 3; i++) cluster.createNode({ datacenter: i === 0 ? 'dc2' : 'dc1' });
    cluster.createJob({
      id: 'web',
      groups: [
        { name: 'frontend', count: 15, tasks: [{ name: 'nginx' }, { name: 'log-shipper', driver: 'exec' }] },
        { name: 'admin', count: 8 },
      ],
    });
    cluster.createJob({ id: 'report', type: 'batch', count: 9 });
    cluster.createJob({ id: AWKWARD_JOB, count: 2 });
    cluster.createJob({ id: 'api', namespace: 'prod', count: 17 });
    cluster.createJob({ id: 'cache', namespace: 'prod', count: 6 });
    // More than one page of 500 across namespaces.
    cluster.createJob({ id: 'worker', namespace: 'staging', type: 'batch', count: 460 });
    await cluster.idle();
    const allocs = [...sim().store.allocs.values()];
    const pick = (jobId: string): string => allocs.find((a) => a.JobID === jobId)?.ID ?? '';
    cluster.failTask(pick('web'), 'nginx'); // failed, then rescheduled
    cluster.failTask(pick('report'), 'server'); // failed, a batch job: not rescheduled
    cluster.stopAllocation(pick('api'), { noShutdownDelay: true, reschedule: false }); // stopped and replaced
    await cluster.idle();

    const busiest = (namespace: string): string => {
      const counts = new Map<string, number>();
      for (const a of sim().store.allocs.values()) {
        if (namespace !== '*' && a.Namespace !== namespace) continue;
        counts.set(a.ID.slice(0, 2), (counts.get(a.ID.slice(0, 2)) ?? 0) + 1);
      }
      return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? '';
    };
    busyPrefixAll = busiest('*');
    busyPrefixDefault = busiest('default');
  });

  describe('cursor walks', () => {
    const scopes: { label: string; args: () => ListArgs; minimum: number }[] = [
      { label: 'the default namespace', args: () => ({}), minimum: 35 },
      { label: 'every namespace', args: () => ({ namespace: '*' }), minimum: 501 },
      { label: 'a prefix across namespaces', args: () => ({ namespace: '*', prefix: busyPrefixAll }), minimum: 3 },
      { label: 'a prefix in the default namespace', args: () => ({ prefix: busyPrefixDefault }), minimum: 2 },
    ];

    it('should see the simulator list in CreateIndex-then-ID order, and in ID order with a prefix', async () => {
      const all = await simulatorOrder(sim(), { namespace: '*' });
      expect(all).toEqual(storeIds(sim(), () => true));
      const prefixed = await simulatorOrder(sim(), { namespace: '*', prefix: busyPrefixAll });
      expect(prefixed).toEqual(all.filter((id) => id.startsWith(busyPrefixAll)).sort());
    });

    for (const scope of scopes) {
      for (const size of PAGE_SIZES) {
        it(`should walk ${scope.label} forwards and backwards ${size} at a time with no gap or duplicate`, { timeout: 60_000 }, async () => {
          const args = scope.args();
          const expected = await simulatorOrder(sim(), args);
          expect(expected.length).toBeGreaterThanOrEqual(scope.minimum);
          const pageCount = Math.ceil(expected.length / size);

          const forward = await walk(stack(), args, size, 'forward');
          expect(forward.flatMap((p) => p.ids)).toEqual(expected);
          expect(forward).toHaveLength(pageCount);
          forward.forEach((p, i) => {
            expect(p.ids).toHaveLength(i < pageCount - 1 ? size : expected.length - size * (pageCount - 1));
            expect(p.pageInfo.hasPreviousPage).toBe(i > 0);
            expect(p.pageInfo.hasNextPage).toBe(i < pageCount - 1);
          });

          const backward = await walk(stack(), args, size, 'backward');
          expect(backward.flatMap((p) => p.ids)).toEqual(expected);
          expect(backward).toHaveLength(pageCount);
          backward.forEach((p, i) => {
            // Paging backwards, the short page is the oldest one.
            expect(p.ids).toHaveLength(i > 0 ? size : expected.length - size * (pageCount - 1));
            expect(p.pageInfo.hasPreviousPage).toBe(i > 0);
            expect(p.pageInfo.hasNextPage).toBe(i < pageCount - 1);
          });
          // Both walks name each allocation with the same cursor.
          expect(backward.flatMap((p) => p.cursors)).toEqual(forward.flatMap((p) => p.cursors));
        });
      }
    }

    it('should return 50 allocations when neither first nor last is given', async () => {
      const expected = await simulatorOrder(sim(), { namespace: '*' });
      const first = await page(stack(), { namespace: '*' });
      expect(first.ids).toEqual(expected.slice(0, 50));
      expect(first.pageInfo.hasNextPage).toBe(true);
      const oldest = await page(stack(), { namespace: '*', before: first.pageInfo.endCursor ?? '' });
      expect(oldest.ids).toEqual(expected.slice(0, 49));
    });
  });

  describe('pageInfo', () => {
    const report = { where: { jobId: 'report' } };

    it('should report next and previous pages exactly on the first, middle and last pages going forwards', async () => {
      const expected = storeIds(sim(), (a) => a.JobID === 'report');
      expect(expected).toHaveLength(9);
      const first = await page(stack(), { ...report, first: 4 });
      expect(first.ids).toEqual(expected.slice(0, 4));
      expect(first.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: first.cursors[0], endCursor: first.cursors[3] });
      const middle = await page(stack(), { ...report, first: 4, after: first.pageInfo.endCursor ?? '' });
      expect(middle.ids).toEqual(expected.slice(4, 8));
      expect(middle.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true, startCursor: middle.cursors[0], endCursor: middle.cursors[3] });
      const last = await page(stack(), { ...report, first: 4, after: middle.pageInfo.endCursor ?? '' });
      expect(last.ids).toEqual(expected.slice(8));
      expect(last.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: last.cursors[0], endCursor: last.cursors[0] });
    });

    it('should report next and previous pages exactly on the first, middle and last pages going backwards', async () => {
      const expected = storeIds(sim(), (a) => a.JobID === 'report');
      const newest = await page(stack(), { ...report, last: 4 });
      expect(newest.ids).toEqual(expected.slice(5));
      expect(newest.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: newest.cursors[0], endCursor: newest.cursors[3] });
      const middle = await page(stack(), { ...report, last: 4, before: newest.pageInfo.startCursor ?? '' });
      expect(middle.ids).toEqual(expected.slice(1, 5));
      expect(middle.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true, startCursor: middle.cursors[0], endCursor: middle.cursors[3] });
      const oldest = await page(stack(), { ...report, last: 4, before: middle.pageInfo.startCursor ?? '' });
      expect(oldest.ids).toEqual(expected.slice(0, 1));
      expect(oldest.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: oldest.cursors[0], endCursor: oldest.cursors[0] });
    });

    it('should say there is no next page when the last page is exactly full', async () => {
      const expected = storeIds(sim(), (a) => a.JobID === 'report');
      const pages = await walk(stack(), report, 3, 'forward');
      expect(pages.map((p) => p.ids)).toEqual([expected.slice(0, 3), expected.slice(3, 6), expected.slice(6)]);
      expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
      const whole = await page(stack(), { ...report, first: 9 });
      expect(whole.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
      const wholeBackward = await page(stack(), { ...report, last: 9 });
      expect(wholeBackward.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    });

    it('should give null cursors and no neighbours for an empty result', async () => {
      for (const args of [{ first: 10 }, { last: 10 }, {}]) {
        const empty = await page(stack(), { where: { jobId: 'no-such-job' }, ...args });
        expect(empty.ids).toEqual([]);
        expect(empty.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
      }
      const nothingInNamespace = await page(stack(), { namespace: 'no-such-namespace', first: 5 });
      expect(nothingInNamespace.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
    });

    it('should give an empty page with null cursors after the last edge, still reporting the page before it', async () => {
      const last = await page(stack(), { ...report, last: 1 });
      const after = await page(stack(), { ...report, first: 5, after: last.pageInfo.endCursor ?? '' });
      expect(after.ids).toEqual([]);
      expect(after.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
      const first = await page(stack(), { ...report, first: 1 });
      const before = await page(stack(), { ...report, last: 5, before: first.pageInfo.startCursor ?? '' });
      expect(before.ids).toEqual([]);
      expect(before.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null });
    });

    it('should answer first: 0 with no edges', async () => {
      const none = await page(stack(), { ...report, first: 0 });
      expect(none.ids).toEqual([]);
      expect(none.pageInfo).toMatchObject({ startCursor: null, endCursor: null, hasPreviousPage: false });
    });

    it('should compute hasPreviousPage the same when it is the only pageInfo field selected', async () => {
      const first = await page(stack(), { ...report, first: 2 });
      const response = await stack().graphql(
        `query($after: String) { allocations(where: { jobId: "report" }, first: 2, after: $after) { pageInfo { hasPreviousPage } } }`,
        { after: first.pageInfo.endCursor },
      );
      expect(response.errors).toBeUndefined();
      expect(response.data).toEqual({ allocations: { pageInfo: { hasPreviousPage: true } } });
    });
  });

  describe('bad paging arguments', () => {
    async function badInput(args: Record<string, unknown>): Promise<string> {
      const response = await stack().graphql(PAGE_QUERY, args);
      const error = errorOf(response);
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(response.data ?? null).toBeNull();
      return error.message;
    }

    it('should refuse first or last above 500', async () => {
      expect(await badInput({ first: 501 })).toMatch(/500/);
      expect(await badInput({ last: 501 })).toMatch(/500/);
      expect(await badInput({ namespace: '*', first: 100_000 })).toMatch(/500/);
      // 500 itself is allowed.
      expect((await page(stack(), { namespace: '*', first: 500 })).ids).toHaveLength(500);
    });

    it('should refuse a negative first or last', async () => {
      await badInput({ first: -1 });
      await badInput({ last: -1 });
    });

    it('should refuse first and last together, and after with before', async () => {
      await badInput({ first: 2, last: 2 });
      const cursor = (await page(stack(), { first: 1 })).pageInfo.endCursor;
      await badInput({ after: cursor, before: cursor });
      await badInput({ first: 2, before: cursor });
      await badInput({ last: 2, after: cursor });
    });

    it('should refuse a garbage cursor', async () => {
      for (const garbage of ['garbage', '', '!!!', Buffer.from('c:not-a-token').toString('base64url'), Buffer.from('c:1.2.3').toString('base64url')]) {
        await badInput({ first: 2, after: garbage });
        await badInput({ last: 2, before: garbage });
      }
    });

    it('should refuse a cursor from a prefix query without the prefix, and the other way round', async () => {
      const prefixed = await page(stack(), { namespace: '*', prefix: busyPrefixAll, first: 1 });
      expect(prefixed.ids).toHaveLength(1);
      expect(await badInput({ namespace: '*', first: 1, after: prefixed.pageInfo.endCursor })).toMatch(/prefix/);
      const plain = await page(stack(), { namespace: '*', first: 1 });
      await badInput({ namespace: '*', prefix: busyPrefixAll, first: 1, after: plain.pageInfo.endCursor });
    });

    it('should refuse a prefix Nomad cannot read instead of passing on its 500', async () => {
      await badInput({ prefix: 'abc' });
      await badInput({ prefix: 'zz' });
    });
  });

  describe('where', () => {
    const cases: { name: string; where: Record<string, unknown>; keep: (a: Allocation) => boolean }[] = [
      { name: 'clientStatusIn', where: { clientStatusIn: ['FAILED', 'COMPLETE'] }, keep: (a) => a.ClientStatus === 'failed' || a.ClientStatus === 'complete' },
      { name: 'desiredStatusIn', where: { desiredStatusIn: ['STOP'] }, keep: (a) => a.DesiredStatus === 'stop' },
      { name: 'jobId', where: { jobId: 'web' }, keep: (a) => a.JobID === 'web' },
      { name: 'jobIdIn', where: { jobIdIn: ['report', 'cache', 'report'] }, keep: (a) => a.JobID === 'report' || a.JobID === 'cache' },
      { name: 'jobType', where: { jobType: 'batch' }, keep: (a) => a.Job?.Type === 'batch' },
      { name: 'taskGroup', where: { taskGroup: 'admin' }, keep: (a) => a.TaskGroup === 'admin' },
      { name: 'nodeName', where: { nodeName: 'client-2' }, keep: (a) => a.NodeName === 'client-2' },
      { name: 'nameContains', where: { nameContains: '.frontend[1' }, keep: (a) => a.Name.includes('.frontend[1') },
      {
        name: 'several fields at once',
        where: { jobId: 'web', taskGroup: 'frontend', clientStatusIn: ['RUNNING'] },
        keep: (a) => a.JobID === 'web' && a.TaskGroup === 'frontend' && a.ClientStatus === 'running',
      },
      { name: 'a job id with a quote, a backslash and a backquote', where: { jobId: AWKWARD_JOB }, keep: (a) => a.JobID === AWKWARD_JOB },
      { name: 'nameContains with a double quote', where: { nameContains: '"' }, keep: (a) => a.Name.includes('"') },
      { name: 'nameContains with a backslash', where: { nameContains: '\\job' }, keep: (a) => a.Name.includes('\\job') },
      { name: 'nameContains with a backquote', where: { nameContains: '`tick' }, keep: (a) => a.Name.includes('`tick') },
      { name: 'an empty clientStatusIn', where: { clientStatusIn: [] }, keep: () => false },
      { name: 'an empty jobIdIn', where: { jobIdIn: [] }, keep: () => false },
      { name: 'an empty desiredStatusIn next to another field', where: { jobId: 'web', desiredStatusIn: [] }, keep: () => false },
    ];

    for (const c of cases) {
      it(`should match exactly what ${c.name} selects`, async () => {
        const expected = storeIds(sim(), c.keep);
        if (!c.name.startsWith('an empty')) expect(expected.length).toBeGreaterThan(0);
        expect(await allIds(stack(), { namespace: '*', where: c.where })).toEqual(expected);
      });
    }

    it('should have a failed, a complete, a stopped and a replaced allocation to filter on', () => {
      const allocs = [...sim().store.allocs.values()];
      expect(allocs.filter((a) => a.ClientStatus === 'failed')).toHaveLength(2);
      expect(allocs.filter((a) => a.ClientStatus === 'complete')).toHaveLength(1);
      expect(allocs.filter((a) => a.PreviousAllocation !== '')).toHaveLength(2);
    });

    const injections = [
      '" or "1" == "1',
      'web" or JobID != "',
      '") or (ID != "',
      'web\\',
      '\\" or ID != "\\',
      'web\\" or \\"1\\" == \\"1',
      '` or ID != `',
      'web` or JobID != `',
      '/JobID',
      '" or "" == "',
    ];

    for (const value of injections) {
      it(`should match nothing, not everything, for the injection attempt ${JSON.stringify(value)}`, async () => {
        for (const field of ['jobId', 'taskGroup', 'nodeName', 'nameContains', 'jobType']) {
          const response = await stack().graphql(PAGE_QUERY, { namespace: '*', first: 500, where: { [field]: value } });
          expect(pageOf(response).ids, field).toEqual([]);
        }
        expect(pageOf(await stack().graphql(PAGE_QUERY, { namespace: '*', first: 500, where: { jobIdIn: ['web', value] } })).ids).toEqual(
          storeIds(sim(), (a) => a.JobID === 'web'),
        );
      });
    }
  });

  describe('filter', () => {
    const cases: { filter: string; keep: (a: Allocation) => boolean }[] = [
      { filter: 'TaskGroup == "admin"', keep: (a) => a.TaskGroup === 'admin' },
      { filter: 'Job.Type == "batch"', keep: (a) => a.Job?.Type === 'batch' },
      { filter: 'ClientStatus != "running"', keep: (a) => a.ClientStatus !== 'running' },
      { filter: 'Name matches "^api\\\\.api\\\\[1"', keep: (a) => /^api\.api\[1/.test(a.Name) },
      { filter: '"nginx" in TaskStates', keep: (a) => a.TaskStates?.['nginx'] !== undefined },
      { filter: 'NodeName == "client-2" and Namespace == prod', keep: (a) => a.NodeName === 'client-2' && a.Namespace === 'prod' },
      { filter: 'JobID == "web" and not (TaskGroup == "admin")', keep: (a) => a.JobID === 'web' && a.TaskGroup !== 'admin' },
      { filter: 'PreviousAllocation is not empty', keep: (a) => a.PreviousAllocation !== '' },
    ];

    for (const c of cases) {
      it(`should pass the raw filter ${JSON.stringify(c.filter)} to Nomad`, async () => {
        const expected = storeIds(sim(), c.keep);
        expect(expected.length).toBeGreaterThan(0);
        expect(await allIds(stack(), { namespace: '*', filter: c.filter })).toEqual(expected);
      });
    }

    it('should answer a filter syntax error with BAD_USER_INPUT carrying Nomad\'s message', async () => {
      for (const filter of ['NotValid', 'ClientStatus == "runn', 'InvalidField == "x"']) {
        const nomad = await send(sim().url, `/v1/allocations?namespace=*&filter=${encodeURIComponent(filter)}`);
        expect(nomad.status).toBe(400);
        const error = errorOf(await stack().graphql(PAGE_QUERY, { namespace: '*', first: 5, filter }));
        expect(error.code).toBe('BAD_USER_INPUT');
        expect(error.message).toBe(nomad.text);
      }
    });

    it('should combine filter and where with and, without letting an or in the filter escape', async () => {
      const combined = await allIds(stack(), { namespace: '*', filter: 'JobID == "api" or JobID == "web"', where: { taskGroup: 'admin' } });
      expect(combined).toEqual(storeIds(sim(), (a) => a.JobID === 'web' && a.TaskGroup === 'admin'));
      const narrowed = await allIds(stack(), { namespace: '*', filter: 'ClientStatus == "running"', where: { jobIdIn: ['api', 'report'] } });
      expect(narrowed).toEqual(storeIds(sim(), (a) => a.ClientStatus === 'running' && (a.JobID === 'api' || a.JobID === 'report')));
      const emptyWhere = await allIds(stack(), { namespace: '*', filter: 'JobID == "api"', where: { jobIdIn: [] } });
      expect(emptyWhere).toEqual([]);
    });

    it('should refuse a filter that could break out of its parentheses when combined with where', async () => {
      for (const filter of ['JobID == "web") or (ID != ""', 'JobID == "web']) {
        const error = errorOf(await stack().graphql(PAGE_QUERY, { namespace: '*', first: 5, filter, where: { jobId: 'cache' } }));
        expect(error.code).toBe('BAD_USER_INPUT');
      }
    });

    it('should page through a filtered list with no gap or duplicate', async () => {
      const expected = storeIds(sim(), (a) => a.JobID === 'web' || a.JobID === 'api');
      const args = { namespace: '*', filter: 'JobID == "web" or JobID == "api"' };
      const forward = await walk(stack(), args, 4, 'forward');
      expect(forward.flatMap((p) => p.ids)).toEqual(expected);
      const backward = await walk(stack(), args, 4, 'backward');
      expect(backward.flatMap((p) => p.ids)).toEqual(expected);
    });
  });

  describe('allocation(id:)', () => {
    async function one(id: string, namespace?: string): Promise<Record<string, unknown> | null> {
      const response = await stack().graphql(ALLOCATION_QUERY, { id, namespace });
      expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
      const value = asRecord(response.data)['allocation'];
      return value === null ? null : asRecord(value);
    }

    /** An allocation in `prod` whose first 8 hex digits no other allocation shares. */
    function target(): Allocation {
      const allocs = [...sim().store.allocs.values()];
      const found = allocs.find((a) => a.Namespace === 'prod' && allocs.filter((b) => b.ID.startsWith(a.ID.slice(0, 8))).length === 1);
      if (found === undefined) throw new Error('no allocation with a unique 8-digit prefix');
      return found;
    }

    it('should find an allocation by its full UUID, in any namespace', async () => {
      const alloc = target();
      expect(await one(alloc.ID)).toEqual({ id: encodeGlobalId({ type: 'Allocation', id: alloc.ID }), allocId: alloc.ID, namespace: 'prod', jobId: alloc.JobID });
    });

    it('should find an allocation by its UUID in uppercase', async () => {
      const alloc = target();
      expect(await one(alloc.ID.toUpperCase())).toMatchObject({ allocId: alloc.ID });
      expect(await one(` ${alloc.ID} `)).toMatchObject({ allocId: alloc.ID });
    });

    it('should find an allocation by an 8-character prefix, in either case', async () => {
      const alloc = target();
      expect(await one(alloc.ID.slice(0, 8))).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 8).toUpperCase())).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 8), 'prod')).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 8), 'default')).toBeNull();
    });

    it('should find an allocation by an odd-length 9-character prefix, and only on an exact match', async () => {
      const alloc = target();
      const nine = alloc.ID.slice(0, 8) + alloc.ID.slice(9, 10); // 9 hex digits, Nomad takes only even
      expect(nine).toMatch(/^[0-9a-f]{9}$/);
      expect(await one(nine)).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 10))).toMatchObject({ allocId: alloc.ID }); // the same 9 digits, hyphenated
      const wrongNinth = alloc.ID.slice(0, 8) + (alloc.ID[9] === '0' ? '1' : '0');
      expect(await one(wrongNinth)).toBeNull();
    });

    it('should find an allocation by a longer prefix written with or without its hyphens', async () => {
      const alloc = target();
      expect(await one(alloc.ID.slice(0, 13))).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 13).replaceAll('-', ''))).toMatchObject({ allocId: alloc.ID });
      expect(await one(alloc.ID.slice(0, 23).replaceAll('-', ''))).toMatchObject({ allocId: alloc.ID });
    });

    it('should answer null for an unknown UUID or prefix', async () => {
      const ids = new Set([...sim().store.allocs.keys()].map((id) => id.slice(0, 8)));
      let unknownPrefix = '00000000';
      for (let n = 0; ids.has(unknownPrefix); n++) unknownPrefix = n.toString(16).padStart(8, '0');
      expect(await one(`${unknownPrefix}-0000-4000-8000-000000000000`)).toBeNull();
      expect(await one(unknownPrefix)).toBeNull();
      expect(await one(`${unknownPrefix}1`)).toBeNull();
    });

    it('should refuse a malformed id with BAD_USER_INPUT', async () => {
      const alloc = target();
      for (const id of ['not-an-id', 'abc', '1234567', alloc.ID.slice(0, 7), 'zzzzzzzz', `${alloc.ID}0`, `${alloc.ID.slice(0, 35)}z`, '', '--------']) {
        const response = await stack().graphql(ALLOCATION_QUERY, { id });
        const error = errorOf(response);
        expect(error.code, id).toBe('BAD_USER_INPUT');
      }
    });
  });
});

/**
 * Two allocations sharing their first 8 hex digits: with random UUIDs that takes about 2^16
 * allocations to happen by chance, so the simulator is seeded with one. A copy of a real
 * allocation is committed to the store under an id sharing the original's first 12 hex digits,
 * the way other simulator tests commit test-only state; everything else about it is real.
 */
describe('allocation(id:) with an ambiguous prefix', () => {
  const stack = useGatewayStack();
  let original = '';
  let twin = '';

  beforeAll(async () => {
    const { sim } = stack();
    const { allocations } = sim.cluster.createJob({ id: 'twins', count: 3 });
    await sim.cluster.idle();
    const source = sim.store.allocs.get(allocations[0]?.ID ?? '');
    if (source === undefined) throw new Error('no allocation to copy');
    original = source.ID;
    // Same first 13 characters (12 hex digits), then a different 13th digit.
    twin = `${original.slice(0, 14)}${original[14] === 'f' ? '0' : 'f'}${original.slice(15)}`;
    sim.store.commit(['allocs'], (index) => {
      sim.store.allocs.set(twin, { ...structuredClone(source), ID: twin, Name: 'twins.twins[9]', CreateIndex: index, ModifyIndex: index });
    });
  });

  it('should refuse an 8-character prefix shared by two allocations, listing both', async () => {
    const response = await stack().graphql(ALLOCATION_QUERY, { id: original.slice(0, 8) });
    const error = errorOf(response);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions['candidates']).toEqual([original, twin].sort());
    expect(error.message).toContain(original);
    expect(error.message).toContain(twin);
    expect(asRecord(response.data)['allocation']).toBeNull();
  });

  it('should refuse odd and even prefixes up to the shared part, and resolve the first longer one', async () => {
    for (const length of [9, 10, 13, 14]) {
      const error = errorOf(await stack().graphql(ALLOCATION_QUERY, { id: original.slice(0, length) }));
      expect(error.code, `length ${length}`).toBe('BAD_USER_INPUT');
      expect(error.extensions['candidates']).toEqual([original, twin].sort());
    }
    const response = await stack().graphql(ALLOCATION_QUERY, { id: original.slice(0, 15) });
    expect(response.errors).toBeUndefined();
    expect(asRecord(asRecord(response.data)['allocation'])['allocId']).toBe(original);
    const other = await stack().graphql(ALLOCATION_QUERY, { id: twin.slice(0, 15) });
    expect(asRecord(asRecord(other.data)['allocation'])['allocId']).toBe(twin);
  });

  it('should still find either twin by its full UUID', async () => {
    for (const id of [original, twin]) {
      const response = await stack().graphql(ALLOCATION_QUERY, { id });
      expect(asRecord(asRecord(response.data)['allocation'])['allocId']).toBe(id);
    }
  });
});
