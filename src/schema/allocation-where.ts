import type { AllocationWhere } from '../filters/where.ts';
import { builder } from './builder.ts';
import { ClientStatusEnum, DesiredStatusEnum } from './enums.ts';

export const AllocationWhereInput = builder.inputType('AllocationWhere', {
  description: 'Typed allocation filters. Every field set must hold (and); values are matched exactly and safely quoted.',
  fields: (t) => ({
    clientStatusIn: t.field({ type: [ClientStatusEnum], description: 'Any of these client statuses; an empty list matches nothing.' }),
    desiredStatusIn: t.field({ type: [DesiredStatusEnum], description: 'Any of these desired statuses; an empty list matches nothing.' }),
    jobId: t.string({ description: 'Only allocations of the job with this Nomad id (`jobId`, not a global id).' }),
    jobIdIn: t.stringList({ description: 'Any of these job IDs; an empty list matches nothing.' }),
    jobType: t.string({ description: 'Only allocations of jobs of this type: `service`, `batch`, `system` or `sysbatch`.' }),
    taskGroup: t.string({ description: 'Only allocations of the task group with this name.' }),
    nodeId: t.id({ description: 'Only allocations placed on the node with this Nomad id (its UUID, `nodeId`; not a global id).' }),
    nodeName: t.string({ description: 'Only allocations placed on the node with this name.' }),
    nameContains: t.string({ description: 'A substring of the allocation name (`<job>.<group>[<index>]`), case-sensitive.' }),
  }),
});

type WhereInput = typeof AllocationWhereInput.$inferInput;

/** GraphQL gives null for fields sent as null; the filter compiler takes absent ones. */
export function whereFromInput(input: WhereInput): AllocationWhere {
  return {
    clientStatusIn: input.clientStatusIn ?? undefined,
    desiredStatusIn: input.desiredStatusIn ?? undefined,
    jobId: input.jobId ?? undefined,
    jobIdIn: input.jobIdIn ?? undefined,
    jobType: input.jobType ?? undefined,
    taskGroup: input.taskGroup ?? undefined,
    nodeId: input.nodeId == null ? undefined : String(input.nodeId),
    nodeName: input.nodeName ?? undefined,
    nameContains: input.nameContains ?? undefined,
  };
}
