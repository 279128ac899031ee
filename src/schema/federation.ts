// The Federation v2 surface: which types are entities, under which keys, and how a reference from
// another subgraph is resolved. Every reference goes through the same per-request loaders as the
// rest of the schema, so `_entities` with 100 representations is one loader batch, not 100 reads in
// sequence. The plain schema carries the @key metadata only in extensions, which neither
// introspection nor printSchema shows; `_service` and `_entities` exist in the subgraph schema alone.
import { normalizeAllocationId } from './allocation-id.ts';
import { AllocationRef } from './allocation.ts';
import { fromFull } from './allocation-source.ts';
import { builder } from './builder.ts';
import { upstream } from './errors.ts';
import { JobRef } from './job.ts';
import { NomadNodeRef } from './nomad-node.ts';

builder.asEntity(AllocationRef, {
  key: builder.selection<{ id: string }>('id'),
  // A reference that is not a full UUID (Nomad would answer it with a 500) resolves to null
  // without an upstream call, as an unknown allocation does.
  resolveReference: async ({ id }, ctx) => {
    const wanted = normalizeAllocationId(id);
    if (wanted === undefined) return null;
    const alloc = await upstream(ctx.loaders.allocation.load(wanted));
    return alloc === null ? null : fromFull(alloc);
  },
});

builder.asEntity(NomadNodeRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }, ctx) => upstream(ctx.loaders.node.load(String(id))),
});

// A job id is unique only within its namespace, so the key is both.
builder.asEntity(JobRef, {
  key: builder.selection<{ namespace: string; id: string }>('namespace id'),
  resolveReference: ({ namespace, id }, ctx) => upstream(ctx.loaders.job.load({ namespace, id: String(id) })),
});
