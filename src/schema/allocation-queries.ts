import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.ts';
import { whereToBexpr } from '../filters/where.ts';
import { allocationUuidFrom } from './allocation-id.ts';
import { checkPrefix, filterFor } from './allocation-list-args.ts';
import { AllocationRef } from './allocation.ts';
import { fetchAllocationPage, type OrderScheme } from './allocation-page.ts';
import { fromFull, fromStub, stubPartsFor, type AllocationSource } from './allocation-source.ts';
import { AllocationWhereInput, whereFromInput } from './allocation-where.ts';
import { decodeGlobalId } from './global-id.ts';
import { builder } from './builder.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { upstream } from './errors.ts';
import { selectedFields } from './selection.ts';

/** Most candidates an ambiguous prefix reports. */
const MAX_CANDIDATES = 20;

function wantsOppositeSide(info: GraphQLResolveInfo, backward: boolean): boolean {
  return selectedFields(info, ['pageInfo']).has(backward ? 'hasNextPage' : 'hasPreviousPage');
}

async function resolveByPrefix(id: string, namespace: string | undefined, ctx: Context): Promise<AllocationSource | null> {
  const hex = id.replaceAll('-', '');
  if (hex.length < 8 || !/^[0-9a-fA-F-]+$/.test(id) || id.length > 36) {
    const other = decodeGlobalId(id);
    const why = other === undefined ? '' : ` (it is the id of a ${other.type})`;
    throw gatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Invalid allocation id "${id}"${why}: give the allocation's global \`id\`, its full UUID, or a prefix of at least 8 hex digits`,
    );
  }
  // Nomad needs an even number of hex digits: ask for one fewer and keep the exact matches.
  const upstreamPrefix = hex.length % 2 === 0 ? hex : hex.slice(0, -1);
  const { items } = await upstream(
    ctx.nomad.listAllocations({ namespace: namespace ?? '*', prefix: upstreamPrefix, perPage: MAX_CANDIDATES + 1, taskStates: false }),
  );
  // Compare as Nomad does, on the hex digits alone: `abcdef1234` is a prefix of `abcdef12-34…`.
  const wanted = hex.toLowerCase();
  const matches = items.filter((a) => a.ID.replaceAll('-', '').startsWith(wanted));
  if (matches.length > 1) {
    const candidates = matches.slice(0, MAX_CANDIDATES).map((a) => a.ID);
    throw gatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Allocation id prefix "${id}" is ambiguous: it matches ${candidates.join(', ')}${matches.length > MAX_CANDIDATES ? ' and more' : ''}`,
      { candidates },
    );
  }
  const [only] = matches;
  if (only === undefined) return null;
  const alloc = await upstream(ctx.loaders.allocation.load(only.ID));
  return alloc === null ? null : fromFull(alloc);
}

builder.queryFields((t) => ({
  allocations: t.connection(
    {
      type: AllocationRef,
      description: `Allocations, oldest first (by ID with \`prefix\`), as a Relay connection over Nomad's paging. At most 500 per page; 50 when neither \`first\` nor \`last\` is given.`,
      args: {
        namespace: t.arg.string({ description: 'A namespace, or `*` for every namespace the token can read. Defaults to the gateway\'s namespace (`default`).' }),
        prefix: t.arg.string({ description: 'Allocation ID prefix: hex digits, an even number of them.' }),
        filter: t.arg.string({ description: 'A raw Nomad filter expression (go-bexpr) over the full allocation, e.g. `Job.Type == "batch"`.' }),
        where: t.arg({ type: AllocationWhereInput, description: 'Typed filters, combined with `filter` by `and`.' }),
      },
      resolve: async (_root, args, ctx, info) => {
        const prefix = args.prefix ?? '';
        if (prefix !== '') checkPrefix(prefix);
        const scheme: OrderScheme = prefix === '' ? 'create-index' : 'id';
        const parts = stubPartsFor(selectedFields(info, ['edges', 'node']));
        const filter = filterFor(args.filter ?? undefined, args.where == null ? undefined : whereToBexpr(whereFromInput(args.where)));
        const page = await fetchAllocationPage({
          args,
          scheme,
          wantOppositeSide: wantsOppositeSide(info, args.last != null || args.before != null),
          list: async ({ perPage, nextToken, reverse }) => {
            const { items, meta } = await upstream(
              ctx.nomad.listAllocations({
                
                namespace: args.namespace ?? undefined,
                prefix: prefix === '' ? undefined : prefix,
                filter,
                perPage,
                nextToken,
                reverse,
                taskStates: parts.taskStates,
                resources: parts.resources,
              }),
            );
            return { items, nextToken: meta.NextToken };
          },
        });
        return {
          pageInfo: page.pageInfo,
          edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: fromStub(edge.node, parts) })),
        };
      },
    },
    {
      name: 'AllocationConnection',
      description: 'A page of allocations.',
      edgesField: {
        description: 'The page\'s allocations with their cursors, oldest first (by ID with `prefix`), also when paging backwards.',
      },
    },
    {
      name: 'AllocationEdge',
      description: 'An allocation and its cursor.',
      nodeField: { description: 'The allocation at this position of the list.' },
    },
  ),
  allocation: t.field({
    type: AllocationRef,
    nullable: true,
    description: 'One allocation by its global `id`, its full UUID (`allocId`), or a unique prefix of at least 8 hex digits of the UUID; null when none exists.',
    args: {
      id: t.arg.id({ required: true, description: 'A global `id`, a full UUID, or a UUID prefix of 8 or more hex digits.' }),
      namespace: t.arg.string({ description: 'Where to look a prefix up. Defaults to every namespace the token can read.' }),
    },
    resolve: async (_root, args, ctx) => {
      const full = allocationUuidFrom(args.id);
      if (full !== undefined) {
        const alloc = await upstream(ctx.loaders.allocation.load(full));
        return alloc === null ? null : fromFull(alloc);
      }
      return resolveByPrefix(String(args.id).trim(), args.namespace ?? undefined, ctx);
    },
  }),
}));
