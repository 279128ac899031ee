import type { AllocationWhere } from '../filters/where.ts';
import { builder } from './builder.ts';
import { ClientStatusEnum, DesiredStatusEnum } from './enums.ts';

export const AllocationWhereInput = builder.inputType('AllocationWhere', {
  description: 'Typed allocation filters. Every field set must hold (and); values are matched exactly and safely quoted.',
  fields: (t) => ({
    clientStatusIn: t.field({ type: [ClientStatusEnum], description: 'Any of these client statuses.' }),
    desiredStatusIn: t.field({ type: [DesiredStatusEnum], description: 'Any of these desired statuses.' }),
    jobId: t.string(),
    jobIdIn: t.stringList({ description: 'Any of these job IDs.' }),
    jobType: t.string({ description: '`service`, `batch`, `system` or `sysbatch`.' }),
    taskGroup: t.string(),
    nodeId: t.id(),
    nodeName: t.string(),
    nameContains: t.string({ description: 'A substring of the allocation name (`<job>.<group>[<index>]`).' }),
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
