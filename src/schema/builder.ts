import SchemaBuilder from '@pothos/core';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import RelayPlugin from '@pothos/plugin-relay';
import type { Context } from '../context.ts';


/**
 * The one Pothos builder. It holds no runtime state: everything a resolver needs comes from
 * the per-request context. Type files register themselves on it; `schema/index.ts` loads them.
 * Federation comes after any plugin that wraps resolvers (stack.md gotcha 8); it needs the
 * directives plugin before it.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: string; Output: string };
    Duration: { Input: string; Output: bigint };
    Uint64: { Input: bigint; Output: bigint };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [RelayPlugin, DirectivePlugin, FederationPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.queryType({ description: 'Reads of Nomad allocations and what they point to.' });
builder.mutationType({ description: 'Allocation lifecycle actions, validated as Nomad validates them.' });
