import type { Allocation } from '../../nomad/types.ts';
import { FilterEvaluationError, FilterSyntaxError } from '../bexpr/errors.ts';
import { evaluateFilter } from '../bexpr/evaluate.ts';
import { parseFilter } from '../bexpr/parse.ts';
import { HttpError, sendError, sendJson, setMetaHeaders } from '../http-kit.ts';
import { compareByCreateIndex, compareById, createIndexToken, idToken, paginate } from '../paging.ts';
import { parseBoolFlag, parseQueryOptions } from '../query-params.ts';
import { uuidIndexError, uuidKey } from '../uuid-index.ts';
import { allocStub, fullAllocation, nilKindAt } from '../views.ts';
import { authorize, blockIfAsked, lookupAllocation, requireMethod, type RouteContext } from './context.ts';

function compileFilter(expression: string): ((datum: unknown) => boolean) | undefined {
  if (expression === '') return undefined;
  try {
    const ast = parseFilter(expression);
    return (datum) => evaluateFilter(ast, datum, { nilKindAt });
  } catch (error) {
    if (error instanceof FilterSyntaxError) {
      throw new HttpError(400, `failed to create result paginator: failed to read filter expression: ${error.message}`);
    }
    throw error;
  }
}

function byCreateIndex(a: Allocation, b: Allocation): number {
  if (a.CreateIndex !== b.CreateIndex) return a.CreateIndex < b.CreateIndex ? -1 : 1;
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

function byId(a: Allocation, b: Allocation): number {
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/** `GET /v1/allocations`. */
export async function listAllocations(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const params = ctx.url.searchParams;
  const query = parseQueryOptions(params);
  const resources = parseBoolFlag(params, 'resources');
  const taskStates = parseBoolFlag(params, 'task_states');
  const authority = authorize(ctx);
  const allNamespaces = query.namespace === '*';
  if (!allNamespaces && !authority.can(query.namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  if (query.prefix !== '') {
    const problem = uuidIndexError(query.prefix, { exact: false });
    if (problem !== undefined) throw new HttpError(500, `alloc lookup failed: index error: ${problem}`);
  }
  const matches = compileFilter(query.filter);

  const { store, filterDatum } = ctx.sim;
  await blockIfAsked(ctx, query, () => store.tableIndex.allocs);
  if (ctx.signal.aborted) return;

  const prefixKey = uuidKey(query.prefix);
  const items = [...store.allocs.values()]
    .filter((a) => (allNamespaces || a.Namespace === query.namespace) && (prefixKey === '' || uuidKey(a.ID).startsWith(prefixKey)))
    .sort(prefixKey === '' ? byCreateIndex : byId);
  let page;
  try {
    page = paginate({
      items,
      tokenOf: prefixKey === '' ? createIndexToken : idToken,
      compare: prefixKey === '' ? compareByCreateIndex : compareById,
      nextToken: query.nextToken,
      perPage: query.perPage,
      reverse: query.reverse,
      accept: (alloc) =>
        (matches === undefined || matches(filterDatum(alloc))) &&
        (!allNamespaces || authority.can(alloc.Namespace, 'read-job')),
    });
  } catch (error) {
    if (error instanceof FilterEvaluationError) throw new HttpError(400, `failed to read result page: ${error.message}`);
    throw error;
  }
  const fields = { taskStates: taskStates ?? true, resources: resources ?? false };
  setMetaHeaders(ctx.res, { index: store.tableIndex.allocs, nextToken: page.nextToken });
  sendJson(ctx.req, ctx.res, page.items.map((alloc) => allocStub(alloc, fields)), query.pretty);
}

/** `GET /v1/allocation/:id`. */
export async function readAllocation(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  const authority = authorize(ctx);
  const id = ctx.segments[0] ?? '';
  const { store } = ctx.sim;
  const watchedIndex = (): bigint => lookupAllocation(ctx.sim, id)?.ModifyIndex ?? store.tableIndex.allocs;
  lookupAllocation(ctx.sim, id);
  // A missing allocation reports the table index, but only its own creation wakes the query.
  await blockIfAsked(ctx, query, watchedIndex, () => (lookupAllocation(ctx.sim, id)?.ModifyIndex ?? 0n) > query.index);
  if (ctx.signal.aborted) return;
  const alloc = lookupAllocation(ctx.sim, id);
  if (alloc !== undefined && !authority.can(alloc.Namespace, 'read-job')) {
    throw new HttpError(500, `Unknown allocation "${id}"`);
  }
  setMetaHeaders(ctx.res, { index: watchedIndex() });
  if (alloc === undefined) {
    sendError(ctx.res, 404, 'alloc not found');
    return;
  }
  sendJson(ctx.req, ctx.res, fullAllocation(alloc), query.pretty);
}
