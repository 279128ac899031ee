import type { Allocation, TaskState } from '../nomad/types.ts';
import type { Context } from '../context.ts';
import {
  AllocatedResourcesRef,
  AllocationMetricsRef,
  AllocStateRef,
  DeploymentStatusRef,
  DesiredTransitionRef,
  NetworkStatusRef,
  RescheduleTrackerRef,
} from './allocation-parts.ts';
import { common, fromFull, type AllocationSource } from './allocation-source.ts';
import { builder } from './builder.ts';
import { ClientStatusEnum, DesiredStatusEnum } from './enums.ts';
import { upstream } from './errors.ts';
import { EvaluationRef } from './evaluation.ts';
import { JobRef } from './job.ts';
import { NomadNodeRef } from './nomad-node.ts';
import { ServiceRef } from './service.ts';
import { namedTaskStates, TaskStateRef } from './task-state.ts';
import { dateTimeFromNanos } from './time.ts';

/** The full allocation behind a source: itself, or one batched read per request and id. */
async function full(source: AllocationSource, ctx: Context): Promise<Allocation | null> {
  if (source.kind === 'full') return source.alloc;
  return upstream(ctx.loaders.allocation.load(source.stub.ID));
}

type TaskStates = Record<string, TaskState> | null;

/**
 * The allocation's task states: at once when the source carries them (the common case on a
 * page, so no promise per row), else from the full allocation.
 */
function taskStatesOf(source: AllocationSource, ctx: Context): TaskStates | Promise<TaskStates> {
  if (source.kind === 'full') return source.alloc.TaskStates;
  if (source.hasTaskStates) return source.stub.TaskStates;
  return full(source, ctx).then((alloc) => alloc?.TaskStates ?? null);
}

function mapMaybe<T, R>(value: T | Promise<T>, fn: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

async function linked(id: string, ctx: Context): Promise<AllocationSource | null> {
  if (id === '') return null;
  const alloc = await upstream(ctx.loaders.allocation.load(id));
  return alloc === null ? null : fromFull(alloc);
}

function emptyToNull(value: string): string | null {
  return value === '' ? null : value;
}

export const AllocationRef = builder.objectRef<AllocationSource>('Allocation');

AllocationRef.implement({
  description: 'A Nomad allocation: one instance of a task group placed on a node.',
  fields: (t) => ({
    id: t.id({ description: 'The allocation\'s UUID.', resolve: (s) => common(s).ID }),
    name: t.string({ description: '`<job>.<group>[<index>]`.', resolve: (s) => common(s).Name }),
    namespace: t.string({ resolve: (s) => common(s).Namespace }),
    evalId: t.id({ resolve: (s) => common(s).EvalID }),
    nodeId: t.id({ resolve: (s) => common(s).NodeID }),
    nodeName: t.string({ resolve: (s) => common(s).NodeName }),
    jobId: t.string({ resolve: (s) => common(s).JobID }),
    jobType: t.string({
      nullable: true,
      resolve: (s) => (s.kind === 'stub' ? s.stub.JobType : (s.alloc.Job?.Type ?? null)),
    }),
    jobVersion: t.field({
      type: 'Uint64',
      nullable: true,
      resolve: (s) => {
        const version = s.kind === 'stub' ? s.stub.JobVersion : s.alloc.Job?.Version;
        return version === undefined ? null : BigInt(version);
      },
    }),
    taskGroup: t.string({ resolve: (s) => common(s).TaskGroup }),
    desiredStatus: t.field({ type: DesiredStatusEnum, resolve: (s) => common(s).DesiredStatus }),
    desiredDescription: t.string({ resolve: (s) => common(s).DesiredDescription }),
    desiredTransition: t.field({ type: DesiredTransitionRef, resolve: (s) => common(s).DesiredTransition }),
    clientStatus: t.field({ type: ClientStatusEnum, resolve: (s) => common(s).ClientStatus }),
    clientDescription: t.string({ resolve: (s) => common(s).ClientDescription }),
    taskStates: t.field({
      type: [TaskStateRef],
      description: 'Every task\'s state, in task-name order; empty until the client has received the allocation.',
      resolve: (s, _args, ctx) => mapMaybe(taskStatesOf(s, ctx), namedTaskStates),
    }),
    taskState: t.field({
      type: TaskStateRef,
      nullable: true,
      args: { name: t.arg.string({ required: true, description: 'The task\'s name.' }) },
      resolve: (s, { name }, ctx) =>
        mapMaybe(taskStatesOf(s, ctx), (states) => {
          const state = states?.[name];
          return state === undefined ? null : { name, state };
        }),
    }),
    deploymentId: t.id({ nullable: true, resolve: async (s, _args, ctx) => emptyToNull((await full(s, ctx))?.DeploymentID ?? '') }),
    deploymentStatus: t.field({ type: DeploymentStatusRef, nullable: true, resolve: (s) => common(s).DeploymentStatus }),
    followupEvalId: t.id({ nullable: true, resolve: (s) => emptyToNull(common(s).FollowupEvalID) }),
    rescheduleTracker: t.field({ type: RescheduleTrackerRef, nullable: true, resolve: (s) => common(s).RescheduleTracker }),
    metrics: t.field({ type: AllocationMetricsRef, nullable: true, resolve: async (s, _args, ctx) => (await full(s, ctx))?.Metrics ?? null }),
    allocatedResources: t.field({
      type: AllocatedResourcesRef,
      nullable: true,
      resolve: async (s, _args, ctx) =>
        s.kind === 'stub' && s.hasResources ? s.stub.AllocatedResources : ((await full(s, ctx))?.AllocatedResources ?? null),
    }),
    allocStates: t.field({
      type: [AllocStateRef],
      description: 'Recorded changes of client-side state, e.g. disconnects.',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.AllocStates ?? [],
    }),
    networkStatus: t.field({ type: NetworkStatusRef, nullable: true, resolve: async (s, _args, ctx) => (await full(s, ctx))?.NetworkStatus ?? null }),
    createIndex: t.field({ type: 'Uint64', resolve: (s) => common(s).CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', resolve: (s) => common(s).ModifyIndex }),
    allocModifyIndex: t.field({
      type: 'Uint64',
      nullable: true,
      description: 'The index of the last server-side change (desired status, transitions).',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.AllocModifyIndex ?? null,
    }),
    createTime: t.field({ type: 'DateTime', nullable: true, resolve: (s) => dateTimeFromNanos(common(s).CreateTime) }),
    modifyTime: t.field({ type: 'DateTime', nullable: true, resolve: (s) => dateTimeFromNanos(common(s).ModifyTime) }),
    previousAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      description: 'The allocation this one replaced.',
      resolve: async (s, _args, ctx) => linked((await full(s, ctx))?.PreviousAllocation ?? '', ctx),
    }),
    nextAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      description: 'The allocation that replaced this one.',
      resolve: (s, _args, ctx) => linked(common(s).NextAllocation, ctx),
    }),
    preemptedAllocations: t.field({
      type: [AllocationRef],
      description: 'Allocations this one preempted (those still known to Nomad).',
      resolve: async (s, _args, ctx) => {
        const found = await Promise.all((common(s).PreemptedAllocations ?? []).map((id) => linked(id, ctx)));
        return found.filter((a): a is AllocationSource => a !== null);
      },
    }),
    preemptedByAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      resolve: (s, _args, ctx) => linked(common(s).PreemptedByAllocation, ctx),
    }),
    job: t.field({
      type: JobRef,
      nullable: true,
      description: 'The job as it is now (the allocation may run an older version: see jobVersion).',
      resolve: (s, _args, ctx) => upstream(ctx.loaders.job.load({ namespace: common(s).Namespace, id: common(s).JobID })),
    }),
    node: t.field({
      type: NomadNodeRef,
      nullable: true,
      description: 'Needs `node:read` in the caller\'s ACL policy.',
      resolve: (s, _args, ctx) => upstream(ctx.loaders.node.load(common(s).NodeID)),
    }),
    evaluation: t.field({
      type: EvaluationRef,
      nullable: true,
      description: 'The evaluation that placed this allocation.',
      resolve: (s, _args, ctx) => upstream(ctx.loaders.evaluation.load(common(s).EvalID)),
    }),
    services: t.field({
      type: [ServiceRef],
      description: 'Its Nomad-native service registrations.',
      resolve: (s, _args, ctx) =>
        upstream(ctx.loaders.allocationServices.load({ namespace: common(s).Namespace, jobId: common(s).JobID, allocId: common(s).ID })),
    }),
  }),
});
