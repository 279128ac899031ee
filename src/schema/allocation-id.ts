import { decodeGlobalId } from './global-id.ts';

/** A Nomad id (allocations, nodes, evaluations): a UUID, which Nomad writes in lowercase. */
const FULL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id in Nomad's form (trimmed, lowercase) when `raw` is a full UUID in any case; else undefined. */
export function normalizeUuid(raw: string | number): string | undefined {
  const id = String(raw).trim().toLowerCase();
  return FULL_UUID.test(id) ? id : undefined;
}

/**
 * Nomad's allocation UUID from what a caller may hold: the UUID itself (any case) or the
 * allocation's global `id`. Undefined for anything else, a global id of another type included.
 */
export function allocationUuidFrom(raw: string | number): string | undefined {
  const uuid = normalizeUuid(raw);
  if (uuid !== undefined) return uuid;
  const key = decodeGlobalId(String(raw).trim());
  return key?.type === 'Allocation' ? key.id : undefined;
}
