import type { Evaluation } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { encodeGlobalId } from './global-id.ts';
import { dateTimeFromNanos } from './time.ts';

export const EvaluationRef = builder.objectRef<Evaluation>('Evaluation').implement({
  description: 'A scheduler evaluation: why and when Nomad reconsidered a job.',
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.id({
      description: 'A global id, unique across types, that `node(id:)` finds this evaluation by. Nomad\'s own id is `evalId`.',
      resolve: (e) => encodeGlobalId({ type: 'Evaluation', id: e.ID }),
    }),
    evalId: t.exposeID('ID', { description: 'Nomad\'s id of the evaluation, a UUID.' }),
    namespace: t.exposeString('Namespace', { description: 'The namespace of the evaluated job.' }),
    priority: t.exposeInt('Priority', { description: 'The evaluated job\'s priority; Nomad hands higher-priority evaluations to schedulers first.' }),
    type: t.exposeString('Type', {
      description: 'The scheduler that processes it: `service`, `batch`, `system`, `sysbatch`, or `_core` for Nomad\'s internal garbage collection.',
    }),
    triggeredBy: t.exposeString('TriggeredBy', {
      description: 'What made Nomad create the evaluation, e.g. `job-register`, `alloc-stop`, `node-update`, `alloc-failure`.',
    }),
    jobId: t.exposeString('JobID', { description: 'Nomad\'s id of the evaluated job, unique within `namespace`.' }),
    status: t.exposeString('Status', { description: '`blocked`, `pending`, `complete`, `failed` or `canceled`.' }),
    statusDescription: t.exposeString('StatusDescription', { description: 'Why the evaluation has its status, in words; often empty.' }),
    createIndex: t.field({ type: 'Uint64', description: 'The Raft index at which Nomad created the evaluation.', resolve: (e) => e.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', description: 'The Raft index of the evaluation\'s last change.', resolve: (e) => e.ModifyIndex }),
    createTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When Nomad created the evaluation; null when unknown.',
      resolve: (e) => dateTimeFromNanos(e.CreateTime),
    }),
    modifyTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the evaluation last changed; null when unknown.',
      resolve: (e) => dateTimeFromNanos(e.ModifyTime),
    }),
  }),
});
