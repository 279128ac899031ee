import { jsonType } from './http.ts';

/**
 * Field-by-field comparison of a response against a documented sample: every key of the sample
 * must be present in `actual` with the same JSON type (a `null` in the sample only says the
 * field may be null). Returns the differences as readable lines, empty when they agree.
 */
export interface ShapeRules {
  /** Keys whose values are maps keyed by data (task names...): compare their first values' shapes. */
  mapKeys?: ReadonlySet<string>;
  /** Keys not to descend into (compare presence and type only). */
  shallowKeys?: ReadonlySet<string>;
  /** Keys that may be absent when the sample's value is Go-empty (Nomad's omitempty). */
  omitEmpty?: boolean;
}

function isGoEmpty(value: unknown): boolean {
  if (value === null || value === '' || value === false || value === 0) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isGoEmpty);
  return false;
}

export function shapeDifferences(sample: unknown, actual: unknown, rules: ShapeRules = {}, path = '$'): string[] {
  const sampleType = jsonType(sample);
  const actualType = jsonType(actual);
  if (sampleType === 'null' || actualType === 'null') return [];
  if (sampleType !== actualType) return [`${path}: sample is ${sampleType}, got ${actualType}`];
  if (sampleType === 'array') {
    const [first] = sample as unknown[];
    const [firstActual] = actual as unknown[];
    return first === undefined || firstActual === undefined ? [] : shapeDifferences(first, firstActual, rules, `${path}[0]`);
  }
  if (sampleType !== 'object') return [];
  const sampleObject = sample as Record<string, unknown>;
  const actualObject = actual as Record<string, unknown>;
  const out: string[] = [];
  for (const [key, value] of Object.entries(sampleObject)) {
    const here = `${path}.${key}`;
    if (!(key in actualObject)) {
      if (!(rules.omitEmpty === true && isGoEmpty(value))) out.push(`${here}: missing`);
      continue;
    }
    const got = actualObject[key];
    if (rules.shallowKeys?.has(key) === true) {
      const a = jsonType(value);
      const b = jsonType(got);
      if (a !== 'null' && b !== 'null' && a !== b) out.push(`${here}: sample is ${a}, got ${b}`);
      continue;
    }
    if (rules.mapKeys?.has(key) === true && jsonType(value) === 'object' && jsonType(got) === 'object') {
      const [firstSample] = Object.values(value as object);
      const [firstActual] = Object.values(got as object);
      if (firstSample !== undefined && firstActual !== undefined) {
        out.push(...shapeDifferences(firstSample, firstActual, { ...rules, omitEmpty: false }, `${here}.*`));
      }
      continue;
    }
    out.push(...shapeDifferences(value, got, { ...rules, omitEmpty: false }, here));
  }
  return out;
}
