// Relay's Global Object Identification: `node(id:)` and `nodes(ids:)` find any object that
// implements `Node` again by its global id, through the same per-request loaders as every other
// field (so `nodes` with 50 allocation ids is one batch of reads, a repeated id read once).
import { brandWithType } from '@pothos/core';
import type { Context } from '../context.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { AllocationRef } from './allocation.ts';
import { fromFull } from './allocation-source.ts';
import { builder } from './builder.ts';
import { ClientNodeRef } from './client-node.ts';
import { upstream } from './errors.ts';
import { EvaluationRef } from './evaluation.ts';
import { decodeGlobalId, type EntityKey } from './global-id.ts';
import { JobRef } from './job.ts';

const ENTITY_REFS = { Allocation: AllocationRef, Job: JobRef, ClientNode: ClientNodeRef, Evaluation: EvaluationRef } as const;

/** Most ids one `nodes` call takes: each can cost an upstream read. */
export const MAX_NODES_IDS = 100;

function keyOf(globalId: string): EntityKey {
  const key = decodeGlobalId(globalId);
  if (key === undefined) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, `Invalid id "${globalId}": give the \`id\` of an object this API returned`, { field: 'id' });
  }
  return key;
}

/** The object a key names, branded with its GraphQL type for `Node`'s type resolution; null when Nomad has none. */
export async function loadEntity(key: EntityKey, ctx: Context): Promise<object | null> {
  const brand = <T extends object>(value: T | null): T | null => {
    if (value !== null) brandWithType(value, ENTITY_REFS[key.type]);
    return value;
  };
  switch (key.type) {
    case 'Allocation': {
      const alloc = await upstream(ctx.loaders.allocation.load(key.id));
      return brand(alloc === null ? null : fromFull(alloc));
    }
    case 'Job':
      return brand(await upstream(ctx.loaders.job.load({ namespace: key.namespace, id: key.id })));
    case 'ClientNode':
      return brand(await upstream(ctx.loaders.node.load(key.id)));
    case 'Evaluation':
      return brand(await upstream(ctx.loaders.evaluation.load(key.id)));
  }
}

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description: 'Any object by its global `id`: an allocation, job, client node or evaluation. Null when it no longer exists.',
    args: { id: t.arg.id({ required: true, description: 'A global `id` this API returned.' }) },
    resolve: (_root, { id }, ctx) => loadEntity(keyOf(String(id)), ctx),
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    description: `Objects by their global ids, in the order given, each null when it no longer exists (or with its own error when its id is invalid). At most ${MAX_NODES_IDS} ids.`,
    args: { ids: t.arg.idList({ required: true, description: 'Global `id`s this API returned.' }) },
    resolve: (_root, { ids }, ctx) => {
      if (ids.length > MAX_NODES_IDS) {
        throw gatewayError(ErrorCode.BAD_USER_INPUT, `\`nodes\` takes at most ${MAX_NODES_IDS} ids; split the request`, { maximum: MAX_NODES_IDS });
      }
      return ids.map(async (id) => loadEntity(keyOf(String(id)), ctx));
    },
  }),
}));
