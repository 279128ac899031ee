import type { Context } from '../context.ts';
import { allocationUuidFrom } from './allocation-id.ts';
import { AllocationRef } from './allocation.ts';
import { fromFull, type AllocationSource } from './allocation-source.ts';
import { builder } from './builder.ts';
import { decodeGlobalId } from './global-id.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { upstream, upstreamAction } from './errors.ts';

/** POSIX signals Nomad's drivers deliver. raw_exec and exec turn any other name into SIGINT, so refuse it here. */
export const SIGNALS = [
  'SIGABRT', 'SIGALRM', 'SIGBUS', 'SIGCHLD', 'SIGCONT', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGIO', 'SIGKILL',
  'SIGPIPE', 'SIGPROF', 'SIGQUIT', 'SIGSEGV', 'SIGSTOP', 'SIGSYS', 'SIGTERM', 'SIGTRAP', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGURG', 'SIGUSR1', 'SIGUSR2', 'SIGVTALRM', 'SIGWINCH', 'SIGXCPU', 'SIGXFSZ',
] as const;

/**
 * Mutations act on an exact allocation: its global id or full UUID, never a prefix, which could
 * match a different allocation by the time the mutation runs.
 */
function allocationId(raw: string | number): string {
  const id = allocationUuidFrom(raw);
  if (id === undefined) {
    const other = decodeGlobalId(String(raw).trim());
    const why = other === undefined ? '' : ` (it is the id of a ${other.type})`;
    throw gatewayError(ErrorCode.BAD_USER_INPUT, `Invalid allocation id "${String(raw)}"${why}: mutations need the allocation's global \`id\` or its full UUID`, {
      field: 'id',
    });
  }
  return id;
}

function taskName(raw: string | null | undefined): string | undefined {
  if (raw == null) return undefined;
  if (raw.trim() === '') throw gatewayError(ErrorCode.BAD_USER_INPUT, '`task` cannot be empty: leave it out to target every task', { field: 'task' });
  return raw;
}

/** The allocation as it is after the change, read fresh (the request's cache is dropped for it). */
async function reread(id: string, ctx: Context): Promise<AllocationSource | null> {
  ctx.loaders.allocation.clear(id);
  const alloc = await upstream(ctx.loaders.allocation.load(id));
  return alloc === null ? null : fromFull(alloc);
}

const StopAllocationInput = builder.inputType('StopAllocationInput', {
  description: 'Which allocation `stopAllocation` stops, and whether to skip its shutdown delay.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The allocation\'s global `id` or its full UUID (`allocId`).' }),
    noShutdownDelay: t.boolean({ defaultValue: false, description: 'Skip the group and task `shutdown_delay`.' }),
  }),
});

/**
 * The payloads carry the allocation's id and read it when `allocation` is selected: a token with
 * `alloc-lifecycle` but not `read-job` then gets the mutation's result plus a field error on
 * `allocation`, instead of a failed mutation that in fact took effect.
 */
const StopAllocationPayload = builder
  .objectRef<{ evalId: string; index: bigint; allocationId: string }>('StopAllocationPayload')
  .implement({
    description: 'The result of `stopAllocation`: the evaluation Nomad created to carry out the stop, and the allocation itself.',
    fields: (t) => ({
      evalId: t.exposeID('evalId', { description: 'The `alloc-stop` evaluation Nomad created: Nomad\'s id (UUID), not a global id.' }),
      index: t.field({ type: 'Uint64', description: 'The raft index of the change.', resolve: (p) => p.index }),
      allocation: t.field({
        type: AllocationRef,
        nullable: true,
        description: 'The allocation right after the request: its desired transition is set; the scheduler stops it shortly after.',
        resolve: (p, _args, ctx) => reread(p.allocationId, ctx),
      }),
    }),
  });

const SignalAllocationInput = builder.inputType('SignalAllocationInput', {
  description: 'Which allocation `signalAllocation` signals, with which signal, and which of its tasks.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The allocation\'s global `id` or its full UUID (`allocId`).' }),
    signal: t.string({ required: true, description: `A POSIX signal name: ${SIGNALS.join(', ')}.` }),
    task: t.string({ description: 'One task; every task when left out.' }),
  }),
});

const RestartAllocationInput = builder.inputType('RestartAllocationInput', {
  description: 'Which allocation `restartAllocation` restarts, and which of its tasks.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The allocation\'s global `id` or its full UUID (`allocId`).' }),
    task: t.string({ description: 'Restart only this task. Cannot be combined with `allTasks`.' }),
    allTasks: t.boolean({ defaultValue: false, description: 'Restart every task, those that already finished included.' }),
  }),
});

const AllocationPayload = (name: string, description: string, allocationDescription: string) =>
  builder.objectRef<{ allocationId: string }>(name).implement({
    description,
    fields: (t) => ({
      allocation: t.field({
        type: AllocationRef,
        nullable: true,
        description: allocationDescription,
        resolve: (p, _args, ctx) => reread(p.allocationId, ctx),
      }),
    }),
  });

const SignalAllocationPayload = AllocationPayload(
  'SignalAllocationPayload',
  'The result of `signalAllocation`: the allocation the signal went to.',
  'The allocation as read right after the signal was delivered (its tasks\' `Signaling` events can take a moment to appear); null when it can no longer be found.',
);
const RestartAllocationPayload = AllocationPayload(
  'RestartAllocationPayload',
  'The result of `restartAllocation`: the allocation whose tasks were restarted.',
  'The allocation as read right after the request (its tasks\' `Restart Signaled` events can take a moment to appear); null when it can no longer be found.',
);

builder.mutationFields((t) => ({
  stopAllocation: t.field({
    type: StopAllocationPayload,
    description: 'Stops an allocation; for a service job Nomad places a replacement (see `nextAllocation`). Needs `alloc-lifecycle`.',
    args: { input: t.arg({ type: StopAllocationInput, required: true, description: 'The allocation to stop, and how.' }) },
    resolve: async (_root, { input }, ctx) => {
      const id = allocationId(input.id);
      const result = await upstreamAction(ctx.nomad.stopAllocation(id, { noShutdownDelay: input.noShutdownDelay ?? false }));
      return { evalId: result.EvalID, index: result.Index, allocationId: id };
    },
  }),
  signalAllocation: t.field({
    type: SignalAllocationPayload,
    description: 'Sends a signal to one task or to every task of a running allocation. Needs `alloc-lifecycle`.',
    args: { input: t.arg({ type: SignalAllocationInput, required: true, description: 'The allocation, the signal, and optionally one task.' }) },
    resolve: async (_root, { input }, ctx) => {
      const id = allocationId(input.id);
      const signal = input.signal.trim().toUpperCase();
      if (!(SIGNALS as readonly string[]).includes(signal)) {
        throw gatewayError(ErrorCode.BAD_USER_INPUT, `Unknown signal "${input.signal}"; use one of ${SIGNALS.join(', ')}`, { field: 'signal' });
      }
      await upstreamAction(ctx.nomad.signalAllocation(id, { signalName: signal, task: taskName(input.task) }));
      return { allocationId: id };
    },
  }),
  restartAllocation: t.field({
    type: RestartAllocationPayload,
    description: 'Restarts tasks in place: one task, the running ones (default), or all of them. Needs `alloc-lifecycle`.',
    args: { input: t.arg({ type: RestartAllocationInput, required: true, description: 'The allocation, and which of its tasks to restart.' }) },
    resolve: async (_root, { input }, ctx) => {
      const id = allocationId(input.id);
      const task = taskName(input.task);
      const allTasks = input.allTasks ?? false;
      if (task !== undefined && allTasks) {
        throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Give `task` or `allTasks: true`, not both', { field: 'task' });
      }
      await upstreamAction(ctx.nomad.restartAllocation(id, { taskName: task, allTasks }));
      return { allocationId: id };
    },
  }),
}));
