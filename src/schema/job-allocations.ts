// Job.allocations: the edge from a job to its allocations (a supergraph reaches an owner's jobs'
// allocations through it). Kept out of job.ts so the Job and Allocation type files do not import
// each other.
import { whereToBexpr } from '../filters/where.ts';
import { AllocationRef } from './allocation.ts';
import { planPage } from './allocation-page.ts';
import { fromStub, stubPartsFor } from './allocation-source.ts';
import { builder } from './builder.ts';
import { upstream } from './errors.ts';
import { JobRef } from './job.ts';
import { selectedFields } from './selection.ts';

builder.objectField(JobRef, 'allocations', (t) =>
  t.field({
    type: [AllocationRef],
    description:
      'The job\'s allocations, oldest first: at most `first` (50 when not given, at most 500). Page through more with `allocations(where: { jobId })`.',
    args: { first: t.arg.int({ description: 'How many allocations to return: 0 to 500, 50 when left out.' }) },
    resolve: async (job, { first }, ctx, info) => {
      const { size } = planPage({ first }, 'create-index');
      if (size === 0) return [];
      const parts = stubPartsFor(selectedFields(info, []));
      const { items } = await upstream(
        ctx.nomad.listAllocations({
          
          namespace: job.Namespace,
          filter: whereToBexpr({ jobId: job.ID }),
          perPage: size,
          taskStates: parts.taskStates,
          resources: parts.resources,
        }),
      );
      return items.slice(0, size).map((stub) => fromStub(stub, parts));
    },
  }),
);
