import type { Allocation } from '../../nomad/types.ts';
import type { Authority } from '../acl.ts';
import { isTerminal } from '../client-status.ts';
import { decodeGoStruct } from '../go-json.ts';
import { HttpError, readBody, sendJson } from '../http-kit.ts';
import { parseBoolFlag } from '../query-params.ts';
import { authorize, lookupAllocation, requireMethod, type RouteContext } from './context.ts';

/** Signals a Docker task accepts; raw_exec and exec fall back to SIGINT for anything else. */
const SIGNALS = new Set([
  'SIGABRT', 'SIGALRM', 'SIGBUS', 'SIGCHLD', 'SIGCONT', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGIO',
  'SIGKILL', 'SIGPIPE', 'SIGPROF', 'SIGQUIT', 'SIGSEGV', 'SIGSTOP', 'SIGSYS', 'SIGTERM', 'SIGTRAP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGUSR1', 'SIGUSR2', 'SIGVTALRM', 'SIGWINCH', 'SIGXCPU', 'SIGXFSZ',
]);

function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : '';
}

/**
 * The lookup and checks every client allocation endpoint shares: a known allocation
 * (`Unknown allocation`), `alloc-lifecycle` in its namespace, and a reachable node.
 */
function lifecycleTarget(ctx: RouteContext, authority: Authority): Allocation {
  const id = ctx.segments[0] ?? '';
  const alloc = lookupAllocation(ctx.sim, id);
  if (alloc === undefined) throw new HttpError(404, `Unknown allocation "${id}"`);
  if (!authority.can(alloc.Namespace, 'alloc-lifecycle')) throw new HttpError(403, 'Permission denied');
  const node = ctx.sim.store.nodes.get(alloc.NodeID);
  if (node === undefined || node.Status === 'down') throw new HttpError(404, 'No path to node');
  return alloc;
}

function taskNames(alloc: Allocation): string[] {
  return Object.keys(alloc.TaskStates ?? {});
}

/** `POST|PUT /v1/allocation/:id/stop`. */
export function stopAllocation(ctx: RouteContext): void {
  requireMethod(ctx, 'POST', 'PUT');
  const noShutdownDelay = parseBoolFlag(ctx.url.searchParams, 'no_shutdown_delay') ?? false;
  const reschedule = parseBoolFlag(ctx.url.searchParams, 'reschedule') ?? false;
  const authority = authorize(ctx);
  const alloc = lookupAllocation(ctx.sim, ctx.segments[0] ?? '');
  if (alloc === undefined) throw new HttpError(404, 'allocation not found');
  if (!authority.can(alloc.Namespace, 'alloc-lifecycle')) throw new HttpError(403, 'Permission denied');
  const result = ctx.sim.cluster.stopAllocation(alloc.ID, { noShutdownDelay, reschedule });
  ctx.res.setHeader('X-Nomad-Index', result.index.toString());
  sendJson(ctx.req, ctx.res, { EvalID: result.evalId, Index: result.index }, false);
}

/** `POST|PUT /v1/client/allocation/:id/signal`. */
export async function signalAllocation(ctx: RouteContext): Promise<void> {
  requireMethod(ctx, 'POST', 'PUT');
  const text = await readBody(ctx.req);
  if (text.length === 0) throw new HttpError(400, 'Failed to decode body: Request body is empty');
  const decoded = decodeGoStruct(text, 'AllocSignalRequest', { Signal: 'string', Task: 'string', AuthToken: 'string' });
  if ('error' in decoded) throw new HttpError(400, `Failed to decode body: ${decoded.error}`);
  const body = decoded.value;
  const alloc = lifecycleTarget(ctx, authorize(ctx, stringField(body, 'AuthToken')));
  const task = stringField(body, 'Task');
  const signal = stringField(body, 'Signal');
  const targets = task === '' ? taskNames(alloc) : [task];
  if (task !== '' && alloc.TaskStates?.[task] === undefined) throw new HttpError(500, 'Task not found');
  const notRunning = targets.filter((name) => alloc.TaskStates?.[name]?.State !== 'running');
  if (task !== '' && notRunning.length > 0) throw new HttpError(500, 'Task not running');
  if (notRunning.length > 0) {
    const lines = notRunning.map((name) => `\t* Failed to signal task: ${name}, err: Task not running\n`).join('');
    throw new HttpError(500, `${notRunning.length} error${notRunning.length === 1 ? '' : 's'} occurred:\n${lines}\n`);
  }
  const dockerTask = alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup)?.Tasks?.some(
    (t) => targets.includes(t.Name) && t.Driver === 'docker',
  );
  const effective = SIGNALS.has(signal) ? signal : 'SIGINT';
  if (dockerTask === true && !SIGNALS.has(signal)) throw new HttpError(500, `failed to parse signal: unknown signal "${signal}"`);
  ctx.sim.cluster.signalTasks(alloc.ID, targets, effective);
  sendJson(ctx.req, ctx.res, { Index: 0 }, false);
}

/** `/v1/client/allocation/:id/restart` (any method, like Nomad). */
export async function restartAllocation(ctx: RouteContext): Promise<void> {
  const text = await readBody(ctx.req);
  let body: Record<string, unknown> = {};
  if (text.trim() !== '') {
    const decoded = decodeGoStruct(text, 'AllocRestartRequest', { TaskName: 'string', AllTasks: 'bool' });
    if ('error' in decoded) throw new HttpError(500, decoded.error);
    body = decoded.value;
  }
  const alloc = lifecycleTarget(ctx, authorize(ctx));
  const taskName = stringField(body, 'TaskName');
  const allTasks = body['AllTasks'] === true;
  if (taskName !== '' && allTasks) throw new HttpError(500, 'task name cannot be set when restarting all tasks');
  if (taskName !== '') {
    const state = alloc.TaskStates?.[taskName];
    if (state === undefined) throw new HttpError(500, `Could not find task runner for task: ${taskName}`);
    if (state.State !== 'running') throw new HttpError(500, 'Task not running');
    ctx.sim.cluster.restartTasks(alloc.ID, [taskName], 'User requested task to restart');
  } else {
    if (isTerminal(alloc)) throw new HttpError(500, 'restart of an alloc that should not run');
    const targets = allTasks ? taskNames(alloc) : taskNames(alloc).filter((n) => alloc.TaskStates?.[n]?.State === 'running');
    const reason = allTasks ? 'User requested all tasks to restart' : 'User requested running tasks to restart';
    if (targets.length > 0) ctx.sim.cluster.restartTasks(alloc.ID, targets, reason);
  }
  sendJson(ctx.req, ctx.res, { Index: 0 }, false);
}
