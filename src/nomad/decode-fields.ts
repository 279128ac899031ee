/**
 * Field readers for the hand-written Nomad decoders (`decode.ts`).
 *
 * Tolerance rules, shared by every decoder:
 * - An ABSENT key yields Go's zero value (`""`, `false`, `0`, `0n`, `null` for pointers, slices,
 *   maps and times), because Nomad omits zero-valued fields of some structs and because older and
 *   newer Nomads add and drop fields.
 * - A PRESENT key with the wrong JSON type throws `NomadDecodeError` with the value's path.
 * - Unknown keys are ignored.
 *
 * Paths are built lazily: a reader receives the path of the object it reads from plus the key,
 * and only an error renders `$[3].TaskStates.web.Events[0].Time`. That keeps decoding a
 * 100-allocation page to a few milliseconds.
 */
import { NomadDecodeError } from './errors.ts';
import type { JsonValue, Rfc3339 } from './types.ts';

/** A location in a decoded document. `undefined` is the root, rendered `$`. */
export type DecodePath = PathStep | undefined;

interface PathStep {
  readonly parent: DecodePath;
  readonly key: string | number;
}

/** A JSON object as produced by `JSON.parse`. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Decodes one value found at `path`. */
export type Decoder<T> = (value: unknown, path: DecodePath) => T;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const INTEGER_TEXT = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** Go's zero `time.Time` as older Nomads (and the docs samples) printed it instead of `null`. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
const PREVIEW_CHARS = 40;

/** The path of `key` inside the value at `parent`. */
export function at(parent: DecodePath, key: string | number): PathStep {
  return { parent, key };
}

/** Renders a path as `$`, `$[3].TaskStates.web`, or `$.Scores["a.b"]` for non-identifier keys. */
export function formatPath(path: DecodePath): string {
  const parts: string[] = [];
  for (let step = path; step !== undefined; step = step.parent) {
    const { key } = step;
    if (typeof key === 'number') parts.push(`[${key}]`);
    else parts.push(IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
  }
  return `$${parts.reverse().join('')}`;
}

/** A short, type-first description of a JSON value for error messages. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string': {
      const text = value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value;
      return `string ${JSON.stringify(text)}`;
    }
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    default:
      return typeof value;
  }
}

/** Throws the decode error for `value` at `path`. */
export function fail(path: DecodePath, expected: string, value: unknown): never {
  throw new NomadDecodeError({ jsonPath: formatPath(path), expected, received: describeJson(value) });
}

/** True for a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value as an object, or a decode error. */
export function expectObject(value: unknown, path: DecodePath): JsonObject {
  if (isJsonObject(value)) return value;
  return fail(path, 'an object', value);
}

/** The value as an array, or a decode error. */
export function expectArray(value: unknown, path: DecodePath): readonly unknown[] {
  if (Array.isArray(value)) return value;
  return fail(path, 'an array', value);
}

/** Decodes a JSON array with `decodeItem`, paths `$[i]…`. */
export function decodeArray<T>(value: unknown, path: DecodePath, decodeItem: Decoder<T>): T[] {
  const items = expectArray(value, path);
  const out = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = decodeItem(items[i], at(path, i));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scalars. Each reader takes the object, the key and the object's path.

/** Go `string`. Absent → `""`. */
export function str(o: JsonObject, key: string, path: DecodePath): string {
  const v = o[key];
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return fail(at(path, key), 'a string', v);
}

/** Go `bool`. Absent → `false`. */
export function bool(o: JsonObject, key: string, path: DecodePath): boolean {
  const v = o[key];
  if (typeof v === 'boolean') return v;
  if (v === undefined) return false;
  return fail(at(path, key), 'a boolean', v);
}

/** Go `*bool`. Absent or `null` → `null`. */
export function optBool(o: JsonObject, key: string, path: DecodePath): boolean | null {
  const v = o[key];
  if (typeof v === 'boolean') return v;
  if (v === undefined || v === null) return null;
  return fail(at(path, key), 'a boolean or null', v);
}

function intValue(v: unknown, path: DecodePath): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return fail(path, 'a safe integer', v);
}

/** A small Go integer kept as `number`. Absent → `0`. Refuses anything but a safe integer. */
export function int(o: JsonObject, key: string, path: DecodePath): number {
  const v = o[key];
  if (v === undefined) return 0;
  return intValue(v, at(path, key));
}

function floatValue(v: unknown, path: DecodePath): number {
  if (typeof v === 'number') return v;
  // parseNomadJson turns a float64 printed as a 16+ digit integer into a digit string.
  if (typeof v === 'string' && INTEGER_TEXT.test(v)) return Number(v);
  return fail(path, 'a number', v);
}

/** Go `float64`. Absent → `0`. */
export function float(o: JsonObject, key: string, path: DecodePath): number {
  const v = o[key];
  if (v === undefined) return 0;
  return floatValue(v, at(path, key));
}

function bigintValue(v: unknown, path: DecodePath, signed: boolean): bigint {
  const expected = signed
    ? 'an int64 (safe integer or digit string)'
    : 'a uint64 (non-negative safe integer or digit string)';
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && INTEGER_TEXT.test(v)) n = BigInt(v);
  else return fail(path, expected, v);
  if (signed ? n < INT64_MIN || n > INT64_MAX : n < 0n || n > UINT64_MAX) return fail(path, expected, v);
  return n;
}

/** Go `int64` (timestamps, durations) as `bigint`. Absent → `0n`. */
export function int64(o: JsonObject, key: string, path: DecodePath): bigint {
  const v = o[key];
  if (v === undefined) return 0n;
  return bigintValue(v, at(path, key), true);
}

/** Go `*int64` / `*time.Duration`. Absent or `null` → `null`. */
export function optInt64(o: JsonObject, key: string, path: DecodePath): bigint | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  return bigintValue(v, at(path, key), true);
}

/** Go `uint64` (raft indexes) as `bigint`. Absent → `0n`. */
export function uint64(o: JsonObject, key: string, path: DecodePath): bigint {
  const v = o[key];
  if (v === undefined) return 0n;
  return bigintValue(v, at(path, key), false);
}

/**
 * Go `time.Time` as an RFC 3339 string. Absent, `null` and Go's zero time
 * (`0001-01-01T00:00:00Z`, printed by old Nomads) → `null`.
 */
export function time(o: JsonObject, key: string, path: DecodePath): Rfc3339 {
  const v = o[key];
  if (typeof v === 'string') return v === GO_ZERO_TIME ? null : v;
  if (v === undefined || v === null) return null;
  return fail(at(path, key), 'an RFC 3339 string or null', v);
}

function isOneOf<T extends string>(values: readonly T[], v: string): v is T {
  for (const allowed of values) if (allowed === v) return true;
  return false;
}

/**
 * A string enum checked against `values`. Unlike other fields an enum has no usable zero value,
 * so an absent key is a decode error too.
 */
export function enumOf<T extends string>(o: JsonObject, key: string, values: readonly T[], path: DecodePath): T {
  const v = o[key];
  if (typeof v === 'string' && isOneOf(values, v)) return v;
  return fail(at(path, key), `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
}

// ---------------------------------------------------------------------------------------------
// Composites.

/** Go struct value (never `null` on the wire). Absent → `decode({})`, i.e. all zero values. */
export function struct<T>(o: JsonObject, key: string, path: DecodePath, decode: Decoder<T>): T {
  const v = o[key];
  return decode(v === undefined ? {} : v, at(path, key));
}

/** Go struct pointer. Absent or `null` → `null`. */
export function nullable<T>(o: JsonObject, key: string, path: DecodePath, decode: Decoder<T>): T | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  return decode(v, at(path, key));
}

/** Go slice. Absent or `null` → `null` (Go's nil slice). */
export function list<T>(o: JsonObject, key: string, path: DecodePath, decode: Decoder<T>): T[] | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  const here = at(path, key);
  if (!Array.isArray(v)) return fail(here, 'an array or null', v);
  return decodeArray(v, here, decode);
}

/** Go map with string keys. Absent or `null` → `null`. Safe for keys such as `__proto__`. */
export function map<T>(o: JsonObject, key: string, path: DecodePath, decode: Decoder<T>): Record<string, T> | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  const here = at(path, key);
  if (!isJsonObject(v)) return fail(here, 'an object or null', v);
  const entries: [string, T][] = [];
  for (const k of Object.keys(v)) entries.push([k, decode(v[k], at(here, k))]);
  return Object.fromEntries(entries);
}

/** Element decoder for `string`. */
export function stringValue(v: unknown, path: DecodePath): string {
  if (typeof v === 'string') return v;
  return fail(path, 'a string', v);
}

/** Go `[]string`. */
export function strings(o: JsonObject, key: string, path: DecodePath): string[] | null {
  return list(o, key, path, stringValue);
}

/** Go `[]int`. */
export function ints(o: JsonObject, key: string, path: DecodePath): number[] | null {
  return list(o, key, path, intValue);
}

/** Go `map[string]string`. */
export function stringMap(o: JsonObject, key: string, path: DecodePath): Record<string, string> | null {
  return map(o, key, path, stringValue);
}

/** Go `map[string]int`. */
export function intMap(o: JsonObject, key: string, path: DecodePath): Record<string, number> | null {
  return map(o, key, path, intValue);
}

/** Go `map[string]float64`. */
export function floatMap(o: JsonObject, key: string, path: DecodePath): Record<string, number> | null {
  return map(o, key, path, floatValue);
}

/** True when `value` is made only of JSON values (what `JSON.parse` can produce, plus bigint). */
export function isJsonValue(value: unknown): value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) return value.every(isJsonValue);
      return Object.values(value).every(isJsonValue);
    default:
      return false;
  }
}

/** An opaque JSON value, passed through as parsed (same reference). Absent → `null`. */
export function json(o: JsonObject, key: string, path: DecodePath): JsonValue {
  const v = o[key];
  if (v === undefined) return null;
  if (isJsonValue(v)) return v;
  return fail(at(path, key), 'a JSON value', v);
}

/** An opaque JSON object such as a driver `Config`, passed through as parsed. Absent → `null`. */
export function jsonObject(o: JsonObject, key: string, path: DecodePath): Record<string, JsonValue> | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (isJsonObject(v) && isJsonRecord(v)) return v;
  return fail(at(path, key), 'an object or null', v);
}

function isJsonRecord(o: JsonObject): o is Record<string, JsonValue> {
  return Object.values(o).every(isJsonValue);
}
