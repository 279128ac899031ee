import type { Allocation } from '../../nomad/types.ts';
import { JOB_INDEX, NODE_INDEX, jobIndexSearch, nodeIndexSearch, scanAllocIndex, wakeOnIndexWrite } from '../alloc-indexes.ts';
import { HttpError, sendJson, setMetaHeaders } from '../http-kit.ts';
import { parseGoBool, parseQueryOptions } from '../query-params.ts';
import { allocStub, fullAllocation, type StubFields } from '../views.ts';
import { authorize, blockIfAsked, requireMethod, type RouteContext } from './context.ts';

/**
 * The allocations of one job and of one client node (`Job.Allocations` and `Node.GetAllocs` in
 * Nomad's `nomad/job_endpoint.go` and `nomad/node_endpoint.go`).
 */

/** `Job.Allocations` converts with `Stub(nil)`: task states in, resources out, whatever is asked. */
const JOB_STUB_FIELDS: StubFields = { taskStates: true, resources: false };

/**
 * `GET /v1/job/:id/allocations`: read-job in the request's namespace; list stubs in allocation-id
 * order (the `job` index); `[]` for an unknown job; the `allocs` table index. Without `all`, a job
 * registered anew under the same id hides the allocations of its predecessors.
 */
export async function jobAllocations(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  // The handler drops ParseBool's error: any value it refuses means false.
  const all = parseGoBool(ctx.url.searchParams.get('all') ?? '') ?? false;
  const query = parseQueryOptions(ctx.url.searchParams);
  if (!authorize(ctx).can(query.namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  const jobId = ctx.segments[0] ?? '';
  if (jobId === '') throw new HttpError(500, 'missing job ID');
  const { store } = ctx.sim;
  const search = jobIndexSearch(query.namespace, jobId);
  const tableIndex = (): bigint => store.tableIndex.allocs;
  await blockIfAsked(ctx, query, tableIndex, wakeOnIndexWrite({ store, index: JOB_INDEX, search, resultIndex: tableIndex, minIndex: query.index }));
  if (ctx.signal.aborted) return;
  const job = store.job(query.namespace, jobId);
  const allocs = scanAllocIndex(store, JOB_INDEX, search).filter(
    (alloc) => all || job === undefined || alloc.Job?.CreateIndex === job.CreateIndex,
  );
  setMetaHeaders(ctx.res, { index: tableIndex() });
  sendJson(ctx.req, ctx.res, allocs.map((alloc) => allocStub(alloc, JOB_STUB_FIELDS)), query.pretty);
}

/**
 * What `Node.GetAllocs` reports as its index: the highest ModifyIndex among the allocations found
 * (readable or not), else the `allocs` table index, raised to 1 so that a blocking query blocks.
 */
function nodeAllocsIndex(allocs: readonly Allocation[], tableIndex: bigint): bigint {
  if (allocs.length === 0) return tableIndex === 0n ? 1n : tableIndex;
  return allocs.reduce((max, alloc) => (alloc.ModifyIndex > max ? alloc.ModifyIndex : max), 0n);
}

/**
 * `GET /v1/node/:id/allocations`: node read; full allocations, silently without those in
 * namespaces the token cannot read-job in; `[]` for an unknown node. The id is a case-insensitive
 * prefix of node ids (memdb's `node_prefix` seek), and the order is the `node` index's: node id,
 * running before terminal, then allocation id. `namespace` is ignored.
 */
export async function nodeAllocations(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  const authority = authorize(ctx);
  if (!authority.canReadNodes()) throw new HttpError(403, 'Permission denied');
  const nodeId = ctx.segments[0] ?? '';
  if (nodeId === '') throw new HttpError(500, 'missing node ID');
  const { store } = ctx.sim;
  const search = nodeIndexSearch(nodeId);
  const resultIndex = (): bigint => nodeAllocsIndex(scanAllocIndex(store, NODE_INDEX, search), store.tableIndex.allocs);
  await blockIfAsked(ctx, query, resultIndex, wakeOnIndexWrite({ store, index: NODE_INDEX, search, resultIndex, minIndex: query.index }));
  if (ctx.signal.aborted) return;
  const allocs = scanAllocIndex(store, NODE_INDEX, search);
  setMetaHeaders(ctx.res, { index: nodeAllocsIndex(allocs, store.tableIndex.allocs) });
  const readable = allocs.filter((alloc) => authority.can(alloc.Namespace, 'read-job'));
  sendJson(ctx.req, ctx.res, readable.map(fullAllocation), query.pretty);
}
