import type { Evaluation } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { dateTimeFromNanos } from './time.ts';

export const EvaluationRef = builder.objectRef<Evaluation>('Evaluation').implement({
  description: 'A scheduler evaluation: why and when Nomad reconsidered a job.',
  fields: (t) => ({
    id: t.exposeID('ID'),
    namespace: t.exposeString('Namespace'),
    priority: t.exposeInt('Priority'),
    type: t.exposeString('Type'),
    triggeredBy: t.exposeString('TriggeredBy', { description: 'e.g. `job-register`, `alloc-stop`, `node-update`, `alloc-failure`.' }),
    jobId: t.exposeString('JobID'),
    status: t.exposeString('Status', { description: '`blocked`, `pending`, `complete`, `failed` or `canceled`.' }),
    statusDescription: t.exposeString('StatusDescription'),
    createIndex: t.field({ type: 'Uint64', resolve: (e) => e.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', resolve: (e) => e.ModifyIndex }),
    createTime: t.field({ type: 'DateTime', nullable: true, resolve: (e) => dateTimeFromNanos(e.CreateTime) }),
    modifyTime: t.field({ type: 'DateTime', nullable: true, resolve: (e) => dateTimeFromNanos(e.ModifyTime) }),
  }),
});
