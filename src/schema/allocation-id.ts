/** A Nomad allocation id: a UUID, which Nomad writes in lowercase. */
const FULL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id in Nomad's form (trimmed, lowercase) when `raw` is a full UUID in any case; else undefined. */
export function normalizeAllocationId(raw: string | number): string | undefined {
  const id = String(raw).trim().toLowerCase();
  return FULL_UUID.test(id) ? id : undefined;
}
