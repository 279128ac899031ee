import { HttpError, sendJson, setMetaHeaders } from '../http-kit.ts';
import type { Store } from '../store.ts';
import { parseQueryOptions } from '../query-params.ts';
import { authorize, blockIfAsked, lookupAllocation, requireMethod, type RouteContext } from './context.ts';

/** The services table index as Nomad reports it: raised to at least 1 (`setReplyQueryMeta`). */
function servicesTableIndex(store: Store): bigint {
  return store.tableIndex.services > 1n ? store.tableIndex.services : 1n;
}

/** `GET /v1/allocation/:id/services`: read-job in the request's namespace, which must be the allocation's. */
export async function allocationServices(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  const authority = authorize(ctx);
  if (!authority.can(query.namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  const id = ctx.segments[0] ?? '';
  lookupAllocation(ctx.sim, id);
  const { store } = ctx.sim;
  const servicesIndex = (): bigint => servicesTableIndex(store);
  await blockIfAsked(ctx, query, servicesIndex);
  if (ctx.signal.aborted) return;
  const alloc = lookupAllocation(ctx.sim, id);
  if (alloc === undefined || alloc.Namespace !== query.namespace) throw new HttpError(404, 'allocation not found');
  const registrations = [...store.services.values()]
    .filter((s) => s.AllocID === alloc.ID)
    .sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  setMetaHeaders(ctx.res, { index: servicesIndex() });
  sendJson(ctx.req, ctx.res, registrations, query.pretty);
}

/** `GET /v1/job/:id/services`: read-job in the request's namespace; registrations of the job's allocations. */
export async function jobServices(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  if (!authorize(ctx).can(query.namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  const jobId = ctx.segments[0] ?? '';
  const { store } = ctx.sim;
  const servicesIndex = (): bigint => servicesTableIndex(store);
  await blockIfAsked(ctx, query, servicesIndex);
  if (ctx.signal.aborted) return;
  const registrations = [...store.services.values()]
    .filter((s) => s.JobID === jobId && s.Namespace === query.namespace)
    .sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  setMetaHeaders(ctx.res, { index: servicesIndex() });
  sendJson(ctx.req, ctx.res, registrations, query.pretty);
}
