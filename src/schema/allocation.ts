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
import { common, fromFull, loadersOf, type AllocationSource } from './allocation-source.ts';
import { builder } from './builder.ts';
import { ClientStatusEnum, DesiredStatusEnum } from './enums.ts';
import { upstream } from './errors.ts';
import { EvaluationRef } from './evaluation.ts';
import { JobRef } from './job.ts';
import { ClientNodeRef } from './client-node.ts';
import { encodeGlobalId } from './global-id.ts';
import { ServiceRef } from './service.ts';
import { namedTaskStates, TaskStateRef } from './task-state.ts';
import { dateTimeFromNanos } from './time.ts';

/** The full allocation behind a source: itself, or one batched read per request and id. */
async function full(source: AllocationSource, ctx: Context): Promise<Allocation | null> {
  if (source.kind === 'full') return source.alloc;
  return upstream(loadersOf(source, ctx.loaders).allocation.load(source.stub.ID));
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

/** Another allocation this one names, read through the same loaders as this one. */
async function linked(from: AllocationSource, id: string, ctx: Context): Promise<AllocationSource | null> {
  if (id === '') return null;
  const loaders = loadersOf(from, ctx.loaders);
  const alloc = await upstream(loaders.allocation.load(id));
  return alloc === null ? null : fromFull(alloc, from.loaders);
}

function emptyToNull(value: string): string | null {
  return value === '' ? null : value;
}

export const AllocationRef = builder.objectRef<AllocationSource>('Allocation');

AllocationRef.implement({
  description: 'A Nomad allocation: one instance of a task group placed on a node.',
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.id({
      description: 'A global id, unique across types and namespaces, that `node(id:)` finds this allocation by. Nomad\'s own id is `allocId`.',
      resolve: (s) => encodeGlobalId({ type: 'Allocation', id: common(s).ID }),
    }),
    allocId: t.id({ description: 'Nomad\'s id of the allocation, a UUID (what `nomad alloc status` takes).', resolve: (s) => common(s).ID }),
    name: t.string({
      description: 'The allocation\'s name, `<job>.<group>[<index>]` (e.g. `example.cache[0]`). Not unique: a replacement keeps the name of the allocation it replaces.',
      resolve: (s) => common(s).Name,
    }),
    namespace: t.string({ description: 'The namespace of the allocation and its job, e.g. `default`.', resolve: (s) => common(s).Namespace }),
    evalId: t.id({
      description: 'Nomad\'s id (UUID) of the evaluation that placed the allocation; the same evaluation is `evaluation`.',
      resolve: (s) => common(s).EvalID,
    }),
    nodeId: t.id({
      description: 'Nomad\'s id (UUID) of the client node the allocation was placed on, not a global id; the node itself is `node`.',
      resolve: (s) => common(s).NodeID,
    }),
    nodeName: t.string({ description: 'The name of that client node, as `nomad node status` lists it.', resolve: (s) => common(s).NodeName }),
    jobId: t.string({
      description: 'Nomad\'s id of the allocation\'s job, unique within `namespace`; the job itself is `job`.',
      resolve: (s) => common(s).JobID,
    }),
    jobType: t.string({
      nullable: true,
      description: 'The type of the job version the allocation runs: `service`, `batch`, `system` or `sysbatch`. Null when Nomad sent no copy of that job.',
      resolve: (s) => (s.kind === 'stub' ? s.stub.JobType : (s.alloc.Job?.Type ?? null)),
    }),
    jobVersion: t.int({
      nullable: true,
      description: 'The version of the job spec the allocation runs (compare `job.version`). Null when Nomad sent no copy of that job.',
      resolve: (s) => (s.kind === 'stub' ? s.stub.JobVersion : (s.alloc.Job?.Version ?? null)),
    }),
    taskGroup: t.string({ description: 'The name of the job\'s task group this allocation is an instance of.', resolve: (s) => common(s).TaskGroup }),
    desiredStatus: t.field({
      type: DesiredStatusEnum,
      description: 'What the servers want of the allocation: keep it running, or stop it.',
      resolve: (s) => common(s).DesiredStatus,
    }),
    desiredDescription: t.string({
      description: 'Why the servers want that, e.g. `alloc is being migrated` or `Preempted by alloc ID …`; often empty.',
      resolve: (s) => common(s).DesiredDescription,
    }),
    desiredTransition: t.field({
      type: DesiredTransitionRef,
      description: 'Moves the servers have asked for but the scheduler may not have made yet, e.g. `migrate` right after `stopAllocation`.',
      resolve: (s) => common(s).DesiredTransition,
    }),
    clientStatus: t.field({
      type: ClientStatusEnum,
      description: 'Where the allocation is, as the client node running it reports.',
      resolve: (s) => common(s).ClientStatus,
    }),
    clientDescription: t.string({
      description: 'The client\'s words for `clientStatus`, e.g. `Tasks are running` or `Failed tasks`; may be empty.',
      resolve: (s) => common(s).ClientDescription,
    }),
    taskStates: t.field({
      type: [TaskStateRef],
      description: 'Every task\'s state, in task-name order; empty until the client has received the allocation.',
      resolve: (s, _args, ctx) => mapMaybe(taskStatesOf(s, ctx), namedTaskStates),
    }),
    taskState: t.field({
      type: TaskStateRef,
      nullable: true,
      description: 'The state of one task, by name. Null when the allocation has no such task, or its client has not reported it yet.',
      args: { name: t.arg.string({ required: true, description: 'The task\'s name.' }) },
      resolve: (s, { name }, ctx) =>
        mapMaybe(taskStatesOf(s, ctx), (states) => {
          const state = states?.[name];
          return state === undefined ? null : { name, state };
        }),
    }),
    deploymentId: t.id({
      nullable: true,
      description: 'Nomad\'s id (UUID) of the deployment that placed the allocation; null when no deployment did.',
      resolve: async (s, _args, ctx) => emptyToNull((await full(s, ctx))?.DeploymentID ?? ''),
    }),
    deploymentStatus: t.field({
      type: DeploymentStatusRef,
      nullable: true,
      description: 'Health and canary status within that deployment; null while the deployment has recorded nothing about the allocation.',
      resolve: (s) => common(s).DeploymentStatus,
    }),
    followupEvalId: t.id({
      nullable: true,
      description: 'Nomad\'s id (UUID) of the evaluation that will reschedule this failed allocation once its reschedule delay has passed; null when none is planned.',
      resolve: (s) => emptyToNull(common(s).FollowupEvalID),
    }),
    rescheduleTracker: t.field({
      type: RescheduleTrackerRef,
      nullable: true,
      description: 'The reschedulings that led to this allocation, and how the latest attempt to reschedule it went; null when there is neither.',
      resolve: (s) => common(s).RescheduleTracker,
    }),
    metrics: t.field({
      type: AllocationMetricsRef,
      nullable: true,
      description: 'What the scheduler counted while placing the allocation (nodes considered, filtered, exhausted); null when Nomad kept none.',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.Metrics ?? null,
    }),
    allocatedResources: t.field({
      type: AllocatedResourcesRef,
      nullable: true,
      description: 'The CPU, memory, disk and ports reserved for the allocation on its node; null when Nomad has none recorded.',
      resolve: async (s, _args, ctx) =>
        s.kind === 'stub' && s.hasResources ? s.stub.AllocatedResources : ((await full(s, ctx))?.AllocatedResources ?? null),
    }),
    allocStates: t.field({
      type: [AllocStateRef],
      description: 'Recorded changes of client-side state, e.g. disconnects.',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.AllocStates ?? [],
    }),
    networkStatus: t.field({
      type: NetworkStatusRef,
      nullable: true,
      description: 'The allocation\'s own network namespace and addresses (bridge or CNI networking); null when it has none, e.g. in host networking.',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.NetworkStatus ?? null,
    }),
    createIndex: t.field({ type: 'Uint64', description: 'The Raft index at which Nomad created the allocation.', resolve: (s) => common(s).CreateIndex }),
    modifyIndex: t.field({
      type: 'Uint64',
      description: 'The Raft index of the allocation\'s last change, by the servers or by its client.',
      resolve: (s) => common(s).ModifyIndex,
    }),
    allocModifyIndex: t.field({
      type: 'Uint64',
      nullable: true,
      description: 'The index of the last server-side change (desired status, transitions).',
      resolve: async (s, _args, ctx) => (await full(s, ctx))?.AllocModifyIndex ?? null,
    }),
    createTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the scheduler\'s placement of the allocation was committed; null when unknown.',
      resolve: (s) => dateTimeFromNanos(common(s).CreateTime),
    }),
    modifyTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the allocation last changed; null when unknown.',
      resolve: (s) => dateTimeFromNanos(common(s).ModifyTime),
    }),
    previousAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      description: 'The allocation this one replaced (after a failure, a migration or a job update); null when none, or when Nomad no longer has it.',
      resolve: async (s, _args, ctx) => linked(s, (await full(s, ctx))?.PreviousAllocation ?? '', ctx),
    }),
    nextAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      description: 'The allocation that replaced this one; null while none has, or when Nomad no longer has it.',
      resolve: (s, _args, ctx) => linked(s, common(s).NextAllocation, ctx),
    }),
    preemptedAllocations: t.field({
      type: [AllocationRef],
      description: 'Allocations this one preempted (those still known to Nomad).',
      resolve: async (s, _args, ctx) => {
        const found = await Promise.all((common(s).PreemptedAllocations ?? []).map((id) => linked(s, id, ctx)));
        return found.filter((a): a is AllocationSource => a !== null);
      },
    }),
    preemptedByAllocation: t.field({
      type: AllocationRef,
      nullable: true,
      description: 'The higher-priority allocation that preempted this one (its desired status is then EVICT); null when none did, or when Nomad no longer has it.',
      resolve: (s, _args, ctx) => linked(s, common(s).PreemptedByAllocation, ctx),
    }),
    job: t.field({
      type: JobRef,
      nullable: true,
      description: 'The job as it is now (the allocation may run an older version: see jobVersion); null when the job no longer exists, e.g. after a purge.',
      resolve: (s, _args, ctx) => upstream(loadersOf(s, ctx.loaders).job.load({ namespace: common(s).Namespace, id: common(s).JobID })),
    }),
    node: t.field({
      type: ClientNodeRef,
      nullable: true,
      description: 'The client node the allocation was placed on; null when Nomad no longer knows the node. Needs `node:read` in the caller\'s ACL policy.',
      resolve: (s, _args, ctx) => upstream(loadersOf(s, ctx.loaders).node.load(common(s).NodeID)),
    }),
    evaluation: t.field({
      type: EvaluationRef,
      nullable: true,
      description: 'The evaluation that placed this allocation; null once Nomad has garbage-collected it.',
      resolve: (s, _args, ctx) => upstream(loadersOf(s, ctx.loaders).evaluation.load(common(s).EvalID)),
    }),
    services: t.field({
      type: [ServiceRef],
      description: 'Its Nomad-native service registrations (services with `provider = "nomad"`); empty when it has none.',
      resolve: (s, _args, ctx) =>
        upstream(loadersOf(s, ctx.loaders).allocationServices.load({ namespace: common(s).Namespace, jobId: common(s).JobID, allocId: common(s).ID })),
    }),
  }),
});
