import type { Job, Task, TaskGroup } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { encodeGlobalId } from './global-id.ts';
import { dateTimeFromNanos } from './time.ts';

const JobTaskRef = builder.objectRef<Task>('JobTask').implement({
  description: 'A task of a job\'s task group, as the job spec declares it.',
  fields: (t) => ({
    name: t.exposeString('Name', {
      description: 'The task\'s name, unique within its group (the `task` block\'s label); `Allocation.taskState(name:)` takes it.',
    }),
    driver: t.exposeString('Driver', { description: 'The task driver that runs it, e.g. `docker`, `exec`, `raw_exec`, `java` or `qemu`.' }),
    cpu: t.int({
      nullable: true,
      description: 'CPU the task asks for, in MHz (Nomad fills in 100 when the spec sets neither `cpu` nor `cores`); null when Nomad sent no resources for the task.',
      resolve: (task) => task.Resources?.CPU ?? null,
    }),
    memoryMB: t.int({
      nullable: true,
      description: 'Memory the task asks for, in MB (Nomad fills in 300 when the spec sets none); null when Nomad sent no resources for the task.',
      resolve: (task) => task.Resources?.MemoryMB ?? null,
    }),
    meta: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The task\'s `meta` block: an object of string keys and values. Null when it has none.',
      resolve: (task) => task.Meta,
    }),
  }),
});

const TaskGroupRef = builder.objectRef<TaskGroup>('TaskGroup').implement({
  description: 'A task group of a job: tasks that are always placed together on one node, one allocation per instance.',
  fields: (t) => ({
    name: t.exposeString('Name', {
      description: 'The group\'s name, unique within its job (the `group` block\'s label); `Allocation.taskGroup` holds it.',
    }),
    count: t.exposeInt('Count', { description: 'How many instances (allocations) of the group the job asks for.' }),
    tasks: t.field({ type: [JobTaskRef], description: 'The group\'s tasks, in spec order.', resolve: (group) => group.Tasks ?? [] }),
    meta: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The group\'s `meta` block: an object of string keys and values. Null when it has none.',
      resolve: (group) => group.Meta,
    }),
  }),
});

export const JobRef = builder.objectRef<Job>('Job').implement({
  description: 'A Nomad job: the spec its allocations run.',
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.id({
      description: 'A global id, unique across types and namespaces, that `node(id:)` finds this job by. Nomad\'s own id is `jobId` (unique within `namespace`).',
      resolve: (job) => encodeGlobalId({ type: 'Job', namespace: job.Namespace, id: job.ID }),
    }),
    jobId: t.exposeString('ID', { description: 'Nomad\'s id of the job, unique within its namespace (what `nomad job status` takes).' }),
    namespace: t.exposeString('Namespace', { description: 'The namespace the job was submitted to, e.g. `default`.' }),
    name: t.exposeString('Name', { description: 'The job\'s name from its spec; the same as `jobId` unless the spec sets another.' }),
    region: t.exposeString('Region', { description: 'The Nomad region whose servers schedule the job, e.g. `global`.' }),
    type: t.exposeString('Type', {
      description: 'How the job is scheduled: `service` (long-running), `batch` (runs to completion), `system` (on every eligible node) or `sysbatch` (to completion on every eligible node).',
    }),
    priority: t.exposeInt('Priority', {
      description: 'Scheduling priority, from 1 to 100 unless the servers\' `job_max_priority` allows more; 50 when the spec sets none. Higher-priority jobs are scheduled first and may preempt lower ones.',
    }),
    status: t.exposeString('Status', {
      description: '`pending` (waiting to be scheduled), `running` (has allocations that are not terminal) or `dead` (all its allocations and evaluations are terminal).',
    }),
    statusDescription: t.exposeString('StatusDescription', { description: 'Why the job has its status, in words; often empty.' }),
    stop: t.exposeBoolean('Stop', {
      description: 'Whether the job was stopped (`nomad job stop` without purge): its allocations are stopped, but the job is kept.',
    }),
    version: t.exposeInt('Version', {
      description: 'The version of the job spec: 0 when first registered, one more with each later registration (a revert also makes a new version).',
    }),
    datacenters: t.stringList({
      description: 'The datacenters the job may be placed in; entries may be glob patterns such as `dc*` (`*` for any).',
      resolve: (job) => job.Datacenters ?? [],
    }),
    nodePool: t.exposeString('NodePool', { description: 'The node pool whose client nodes may run the job, e.g. `default`.' }),
    meta: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The job\'s `meta` block: an object of string keys and values. Null when it has none.',
      resolve: (job) => job.Meta,
    }),
    taskGroups: t.field({
      type: [TaskGroupRef],
      description: 'The task groups of the job\'s current version, in spec order.',
      resolve: (job) => job.TaskGroups ?? [],
    }),
    submitTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the current version of the job was submitted; null when unknown.',
      resolve: (job) => dateTimeFromNanos(job.SubmitTime),
    }),
    createIndex: t.field({ type: 'Uint64', description: 'The Raft index at which the job was first registered.', resolve: (job) => job.CreateIndex }),
    modifyIndex: t.field({
      type: 'Uint64',
      description: 'The Raft index of the job\'s last change of any kind, its status included.',
      resolve: (job) => job.ModifyIndex,
    }),
    jobModifyIndex: t.field({
      type: 'Uint64',
      description: 'The Raft index at which the job\'s spec last changed (its latest registration).',
      resolve: (job) => job.JobModifyIndex,
    }),
  }),
});
