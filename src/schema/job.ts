import type { Job, Task, TaskGroup } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { dateTimeFromNanos } from './time.ts';

const JobTaskRef = builder.objectRef<Task>('JobTask').implement({
  description: 'A task of a job\'s task group, as the job spec declares it.',
  fields: (t) => ({
    name: t.exposeString('Name'),
    driver: t.exposeString('Driver'),
    cpu: t.int({ nullable: true, description: 'MHz.', resolve: (task) => task.Resources?.CPU ?? null }),
    memoryMB: t.int({ nullable: true, resolve: (task) => task.Resources?.MemoryMB ?? null }),
    meta: t.field({ type: 'JSON', nullable: true, resolve: (task) => task.Meta }),
  }),
});

const TaskGroupRef = builder.objectRef<TaskGroup>('TaskGroup').implement({
  fields: (t) => ({
    name: t.exposeString('Name'),
    count: t.exposeInt('Count'),
    tasks: t.field({ type: [JobTaskRef], resolve: (group) => group.Tasks ?? [] }),
    meta: t.field({ type: 'JSON', nullable: true, resolve: (group) => group.Meta }),
  }),
});

export const JobRef = builder.objectRef<Job>('Job').implement({
  description: 'A Nomad job: the spec its allocations run.',
  fields: (t) => ({
    id: t.exposeID('ID'),
    namespace: t.exposeString('Namespace'),
    name: t.exposeString('Name'),
    region: t.exposeString('Region'),
    type: t.exposeString('Type', { description: '`service`, `batch`, `system` or `sysbatch`.' }),
    priority: t.exposeInt('Priority'),
    status: t.exposeString('Status', { description: '`pending`, `running` or `dead`.' }),
    statusDescription: t.exposeString('StatusDescription'),
    stop: t.exposeBoolean('Stop', { description: 'Whether the job was stopped.' }),
    version: t.field({ type: 'Uint64', resolve: (job) => BigInt(job.Version) }),
    datacenters: t.stringList({ resolve: (job) => job.Datacenters ?? [] }),
    nodePool: t.exposeString('NodePool'),
    meta: t.field({ type: 'JSON', nullable: true, resolve: (job) => job.Meta }),
    taskGroups: t.field({ type: [TaskGroupRef], resolve: (job) => job.TaskGroups ?? [] }),
    submitTime: t.field({ type: 'DateTime', nullable: true, resolve: (job) => dateTimeFromNanos(job.SubmitTime) }),
    createIndex: t.field({ type: 'Uint64', resolve: (job) => job.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', resolve: (job) => job.ModifyIndex }),
    jobModifyIndex: t.field({ type: 'Uint64', resolve: (job) => job.JobModifyIndex }),
  }),
});
