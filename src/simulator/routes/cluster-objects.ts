import { HttpError, sendError, sendJson, setMetaHeaders } from '../http-kit.ts';
import { parseQueryOptions } from '../query-params.ts';
import { fullEvaluation, jobView } from '../views.ts';
import { authorize, blockIfAsked, requireMethod, type RouteContext } from './context.ts';

/** `GET /v1/job/:id?namespace=`: read-job in the namespace. */
export async function readJob(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  if (!authorize(ctx).can(query.namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  const id = ctx.segments[0] ?? '';
  const { store } = ctx.sim;
  const index = (): bigint => store.job(query.namespace, id)?.ModifyIndex ?? store.tableIndex.jobs;
  await blockIfAsked(ctx, query, index);
  if (ctx.signal.aborted) return;
  const job = store.job(query.namespace, id);
  setMetaHeaders(ctx.res, { index: index() });
  if (job === undefined) {
    sendError(ctx.res, 404, 'job not found');
    return;
  }
  sendJson(ctx.req, ctx.res, jobView(job), query.pretty);
}

/** `GET /v1/node/:id`: node read. */
export async function readNode(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  if (!authorize(ctx).canReadNodes()) throw new HttpError(403, 'Permission denied');
  const id = ctx.segments[0] ?? '';
  const { store } = ctx.sim;
  const index = (): bigint => store.nodes.get(id)?.ModifyIndex ?? store.tableIndex.nodes;
  await blockIfAsked(ctx, query, index);
  if (ctx.signal.aborted) return;
  const node = store.nodes.get(id);
  setMetaHeaders(ctx.res, { index: index() });
  if (node === undefined) {
    sendError(ctx.res, 404, 'node not found');
    return;
  }
  sendJson(ctx.req, ctx.res, node, query.pretty);
}

/** `GET /v1/evaluation/:id`: read-job in the evaluation's namespace. */
export async function readEvaluation(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  const authority = authorize(ctx);
  const id = ctx.segments[0] ?? '';
  const { store } = ctx.sim;
  const index = (): bigint => store.evals.get(id)?.ModifyIndex ?? store.tableIndex.evals;
  await blockIfAsked(ctx, query, index);
  if (ctx.signal.aborted) return;
  const evaluation = store.evals.get(id);
  if (evaluation !== undefined && !authority.can(evaluation.Namespace, 'read-job')) throw new HttpError(403, 'Permission denied');
  setMetaHeaders(ctx.res, { index: index() });
  if (evaluation === undefined) {
    sendError(ctx.res, 404, 'eval not found');
    return;
  }
  sendJson(ctx.req, ctx.res, fullEvaluation(evaluation), query.pretty);
}

/** `GET /v1/namespaces`: the namespaces the caller can read jobs in. */
export function listNamespaces(ctx: RouteContext): void {
  requireMethod(ctx, 'GET');
  const query = parseQueryOptions(ctx.url.searchParams);
  const authority = authorize(ctx);
  const { store } = ctx.sim;
  const visible = [...store.namespaces.values()]
    .filter((ns) => authority.can(ns.Name, 'read-job'))
    .sort((a, b) => (a.Name < b.Name ? -1 : 1));
  setMetaHeaders(ctx.res, { index: store.tableIndex.namespaces });
  sendJson(ctx.req, ctx.res, visible, query.pretty);
}

/** `GET /v1/status/leader`: the simulated leader's RPC address. */
export function statusLeader(ctx: RouteContext): void {
  sendJson(ctx.req, ctx.res, '127.0.0.1:4647', false);
}
