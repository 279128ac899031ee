import type { GraphQLResolveInfo } from 'graphql';
import { whereToBexpr } from '../filters/where.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import type { AllocationChangesEvent } from '../watch/live-allocations.ts';
import { allocationUuidFrom } from './allocation-id.ts';
import { checkPrefix, filterFor } from './allocation-list-args.ts';
import { AllocationRef } from './allocation.ts';
import { fromFull, fromStub, stubPartsFor } from './allocation-source.ts';
import { AllocationWhereInput, whereFromInput } from './allocation-where.ts';
import { builder } from './builder.ts';
import { toGraphQLError, upstream } from './errors.ts';
import { encodeGlobalId } from './global-id.ts';
import { selectedFields } from './selection.ts';

/** What a watch's stubs hold: task states when a subscriber selected them (the event says), never resources. */
const watchedParts = (e: AllocationChangesEvent) => ({ taskStates: e.taskStates, resources: false });

const AllocationChangesRef = builder.objectRef<AllocationChangesEvent>('AllocationChanges').implement({
  description:
    'One step of a live allocation list: what changed at one Nomad index. Never empty, except the one event that says Nomad cannot be reached and the one after it, which brings the view up to date.',
  fields: (t) => ({
    initial: t.exposeBoolean('initial', { description: 'True on the first event only, whose `added` holds every matching allocation.' }),
    index: t.field({
      type: 'Uint64',
      description: 'The Nomad raft index this view is current at. Strictly increasing from one change to the next.',
      resolve: (e) => e.index,
    }),
    added: t.field({
      type: [AllocationRef],
      description: 'Allocations that appeared or started matching since the previous event.',
      resolve: (e) => e.added.map((stub) => fromStub(stub, watchedParts(e), e.loaders)),
    }),
    updated: t.field({
      type: [AllocationRef],
      description: 'Matching allocations that changed (their `modifyIndex` grew) since the previous event.',
      resolve: (e) => e.updated.map((stub) => fromStub(stub, watchedParts(e), e.loaders)),
    }),
    removed: t.idList({
      description: 'Global `id`s of allocations that no longer match or no longer exist: evict them from a client cache.',
      resolve: (e) => e.removed.map((id) => encodeGlobalId({ type: 'Allocation', id })),
    }),
    nomadReachable: t.exposeBoolean('nomadReachable', {
      description: 'False on the one event sent when Nomad stops answering (the lists are then empty); the next event, once it answers again, brings the view up to date.',
    }),
  }),
});

/** Whether the subscription selects anything that needs task states on `added` or `updated` allocations. */
function selectsTaskStates(info: GraphQLResolveInfo): boolean {
  return ['added', 'updated'].some((list) => stubPartsFor(selectedFields(info, [list])).taskStates);
}

builder.subscriptionFields((t) => ({
  allocationChanges: t.field({
    type: AllocationChangesRef,
    description:
      'The allocations `allocations(namespace, prefix, filter, where)` would list, kept current: first all of them, then what changed at each Nomad index. Needs `read-job` in the namespace.',
    args: {
      namespace: t.arg.string({ description: 'A namespace, or `*` for every namespace the token can read. Defaults to the gateway\'s namespace (`default`).' }),
      prefix: t.arg.string({ description: 'Allocation ID prefix: hex digits, an even number of them.' }),
      filter: t.arg.string({ description: 'A raw Nomad filter expression (go-bexpr) over the full allocation.' }),
      where: t.arg({ type: AllocationWhereInput, description: 'Typed filters, combined with `filter` by `and`.' }),
    },
    subscribe: async (_root, args, ctx, info) => {
      const prefix = args.prefix ?? '';
      if (prefix !== '') checkPrefix(prefix);
      const filter = filterFor(args.filter ?? undefined, args.where == null ? undefined : whereToBexpr(whereFromInput(args.where)));
      return upstream(
        ctx.live.allocationChanges(
          { namespace: args.namespace ?? undefined, prefix: prefix === '' ? undefined : prefix, filter, taskStates: selectsTaskStates(info) },
          { token: ctx.token, signal: ctx.signal },
        ),
      );
    },
    // A last event that is an error (Nomad refused the token mid-stream, or the subscriber fell
    // too far behind) ends the stream with that error, as a coded field error.
    resolve: (event) => {
      if (event.error !== undefined) throw toGraphQLError(event.error);
      return event;
    },
  }),
  allocation: t.field({
    type: AllocationRef,
    nullable: true,
    description:
      'One allocation, by its global `id` or full UUID: as it is now, then again after each change; null, and the end of the subscription, once Nomad no longer has it.',
    args: { id: t.arg.id({ required: true, description: 'The allocation\'s global `id` or its full UUID (`allocId`).' }) },
    subscribe: async (_root, { id }, ctx) => {
      const uuid = allocationUuidFrom(id);
      if (uuid === undefined) {
        throw gatewayError(ErrorCode.BAD_USER_INPUT, `Invalid allocation id "${String(id)}": give the allocation's global \`id\` or its full UUID`, { field: 'id' });
      }
      return upstream(ctx.live.allocation(uuid, { token: ctx.token, signal: ctx.signal }));
    },
    resolve: (event) => {
      if (event.error !== undefined) throw toGraphQLError(event.error);
      return event.allocation === null ? null : fromFull(event.allocation, event.loaders);
    },
  }),
}));
