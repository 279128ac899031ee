/** Narrowing of the JSON the scenarios read (GraphQL results, Nomad bodies) into typed values. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object, or an Error saying `what` was not one. */
export function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what}: not an object`);
  return value;
}

/** `value` as an array, or an Error saying `what` was not one. */
export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: not an array`);
  return value;
}
