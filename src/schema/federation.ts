// The Federation v2 surface: which types are entities, under which keys, and how a reference from
// another subgraph is resolved. Each entity has two keys: its global `id`, and Nomad's own
// identifiers (`allocId`; `namespace jobId`; `nodeId`; `evalId`), so a subgraph that only knows
// what Nomad calls things still reaches them. Every reference goes through the same per-request
// loaders as the rest of the schema, so `_entities` with 100 representations is one loader batch,
// not 100 reads in sequence. A reference that cannot name anything (a malformed id) resolves to
// null without an upstream call, as an unknown object does. The plain schema carries the @key
// metadata only in extensions, which neither introspection nor printSchema shows; `_service` and
// `_entities` exist in the subgraph schema alone.
import type { Context } from '../context.ts';
import { normalizeUuid } from './allocation-id.ts';
import { AllocationRef } from './allocation.ts';
import { builder } from './builder.ts';
import { ClientNodeRef } from './client-node.ts';
import { EvaluationRef } from './evaluation.ts';
import { decodeGlobalId, type EntityKey, type EntityType } from './global-id.ts';
import { JobRef } from './job.ts';
import { loadEntity } from './node.ts';

/** Nomad's rule for namespace names. */
const NAMESPACE = /^[a-zA-Z0-9-]{1,128}$/;

/** A key of the given type for a Nomad UUID (any case, trimmed), or undefined when it is none. */
function uuidKey(type: 'Allocation' | 'ClientNode' | 'Evaluation', raw: string): EntityKey | undefined {
  const uuid = normalizeUuid(raw);
  return uuid === undefined ? undefined : { type, id: uuid };
}

/** A job key from Nomad's identifiers, or undefined when the namespace or id cannot exist. */
function jobKey(namespace: string, jobId: string): EntityKey | undefined {
  return NAMESPACE.test(namespace) && jobId !== '' ? { type: 'Job', namespace, id: jobId } : undefined;
}

/** The key a global id names, when it names an object of `type`. */
function globalKey(id: string | undefined, type: EntityType): EntityKey | undefined {
  if (id === undefined) return undefined;
  const key = decodeGlobalId(String(id));
  return key?.type === type ? key : undefined;
}

/** Resolves a representation whose key is known, or to null when it names nothing. */
function resolveKey<T>(key: EntityKey | undefined, ctx: Context): Promise<T | null> | null {
  return key === undefined ? null : (loadEntity(key, ctx) as Promise<T | null>);
}

builder.asEntity(AllocationRef, {
  key: [builder.selection<{ id: string }>('id'), builder.selection<{ allocId: string }>('allocId')],
  resolveReference: (ref, ctx) => {
    if ('allocId' in ref) return resolveKey(uuidKey('Allocation', String(ref.allocId)), ctx);
    return resolveKey(globalKey(ref.id, 'Allocation'), ctx);
  },
});

builder.asEntity(ClientNodeRef, {
  key: [builder.selection<{ id: string }>('id'), builder.selection<{ nodeId: string }>('nodeId')],
  resolveReference: (ref, ctx) => {
    if ('nodeId' in ref) return resolveKey(uuidKey('ClientNode', String(ref.nodeId)), ctx);
    return resolveKey(globalKey(ref.id, 'ClientNode'), ctx);
  },
});

builder.asEntity(EvaluationRef, {
  key: [builder.selection<{ id: string }>('id'), builder.selection<{ evalId: string }>('evalId')],
  resolveReference: (ref, ctx) => {
    if ('evalId' in ref) return resolveKey(uuidKey('Evaluation', String(ref.evalId)), ctx);
    return resolveKey(globalKey(ref.id, 'Evaluation'), ctx);
  },
});

// A job id is unique only within its namespace, so Nomad's key is both.
builder.asEntity(JobRef, {
  key: [builder.selection<{ id: string }>('id'), builder.selection<{ namespace: string; jobId: string }>('namespace jobId')],
  resolveReference: (ref, ctx) => {
    if ('jobId' in ref) return resolveKey(jobKey(String(ref.namespace), String(ref.jobId)), ctx);
    return resolveKey(globalKey(ref.id, 'Job'), ctx);
  },
});
