/**
 * Global object ids (Relay's Global Object Identification): an opaque `id` unique across every
 * type and namespace, from which `node(id:)` finds the object again. The text inside is
 * `<Type>:<Nomad key>`, base64url-encoded: `Allocation:<uuid>`, `ClientNode:<uuid>`,
 * `Evaluation:<uuid>`, and `Job:<namespace>/<job id>`, since a job id is unique only within its
 * namespace (Nomad's namespace names cannot contain `/`).
 */

export const ENTITY_TYPES = ['Allocation', 'Job', 'ClientNode', 'Evaluation'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** What a global id names: a type and Nomad's key for it. */
export type EntityKey =
  | { type: 'Allocation' | 'ClientNode' | 'Evaluation'; id: string }
  | { type: 'Job'; namespace: string; id: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Nomad's rule for namespace names. */
const NAMESPACE = /^[a-zA-Z0-9-]{1,128}$/;
/** base64url without padding, as `encodeGlobalId` writes it. */
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function encodeGlobalId(key: EntityKey): string {
  return key.type === 'Job' ? encode(`Job:${key.namespace}/${key.id}`) : encode(`${key.type}:${key.id}`);
}

function isEntityType(value: string): value is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(value);
}

/**
 * The key inside a global id, or undefined when `globalId` is not one this API issued (not
 * base64url, an unknown type, or a malformed Nomad key). Only the exact text `encodeGlobalId`
 * writes is accepted, so each object has exactly one global id.
 */
export function decodeGlobalId(globalId: string): EntityKey | undefined {
  if (!BASE64URL.test(globalId)) return undefined;
  const text = Buffer.from(globalId, 'base64url').toString('utf8');
  if (encode(text) !== globalId) return undefined;
  const colon = text.indexOf(':');
  const type = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (colon < 0 || !isEntityType(type)) return undefined;
  if (type !== 'Job') return UUID.test(rest) ? { type, id: rest } : undefined;
  const slash = rest.indexOf('/');
  const namespace = rest.slice(0, slash);
  const id = rest.slice(slash + 1);
  return slash > 0 && NAMESPACE.test(namespace) && id !== '' ? { type, namespace, id } : undefined;
}
