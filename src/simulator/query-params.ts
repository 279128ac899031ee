import { HttpError } from './http-kit.ts';

/** The read options every Nomad read endpoint parses, in Nomad's order (`parse()` in http.go). */
export interface QueryOptions {
  namespace: string;
  stale: boolean;
  prefix: string;
  perPage: number;
  nextToken: string;
  filter: string;
  reverse: boolean;
  /** `wait` in milliseconds; undefined when absent. */
  waitMs: number | undefined;
  /** `index`; 0n when absent. */
  index: bigint;
  pretty: boolean;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's `time.ParseDuration`, in milliseconds; undefined when Go would refuse the text. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  const match = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
  if (match === null) return undefined;
  let total = 0;
  for (const part of (match[2] ?? '').matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] ?? ''] ?? Number.NaN);
  }
  return match[1] === '-' ? -total : total;
}

/** Go's `strconv.ParseBool`. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const UINT64_MAX = 18446744073709551615n;

/** Parses the shared read options; throws HttpError with Nomad's status and text. */
export function parseQueryOptions(params: URLSearchParams): QueryOptions {
  const staleText = params.get('stale');
  let stale = false;
  if (staleText !== null) {
    const parsed = staleText === '' ? true : parseGoBool(staleText);
    if (parsed === undefined) throw new HttpError(400, 'Expect `true` or `false` for `stale` query string parameter');
    stale = parsed;
  }
  const namespace = params.get('namespace');
  const perPageText = params.get('per_page');
  let perPage = 0;
  if (perPageText !== null) {
    const parsed = /^[-+]?\d+$/.test(perPageText) ? Number(perPageText) : Number.NaN;
    if (!Number.isInteger(parsed) || parsed < INT32_MIN || parsed > INT32_MAX) {
      throw new HttpError(400, 'Expect a number for `per_page` query string parameter');
    }
    perPage = parsed;
  }
  const waitText = params.get('wait');
  let waitMs: number | undefined;
  if (waitText !== null) {
    waitMs = parseGoDuration(waitText);
    if (waitMs === undefined) throw new HttpError(400, 'Invalid wait time');
  }
  const indexText = params.get('index');
  let index = 0n;
  if (indexText !== null) {
    if (!/^\d+$/.test(indexText) || BigInt(indexText) > UINT64_MAX) throw new HttpError(400, 'Invalid index');
    index = BigInt(indexText);
  }
  const prettyText = params.get('pretty');
  return {
    namespace: namespace === null || namespace === '' ? 'default' : namespace,
    stale,
    prefix: params.get('prefix') ?? '',
    perPage,
    nextToken: params.get('next_token') ?? '',
    filter: params.get('filter') ?? '',
    reverse: params.get('reverse') === 'true',
    waitMs,
    index,
    pretty: prettyText !== null && prettyText !== '0',
  };
}

/**
 * A boolean flag parsed the way Nomad's handlers do (`strconv.ParseBool`); a bad value is a 500
 * with Go's message, since Nomad does not code that error.
 */
export function parseBoolFlag(params: URLSearchParams, name: string): boolean | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  const parsed = parseGoBool(text);
  if (parsed === undefined) {
    throw new HttpError(
      500,
      `Failed to parse value of "${name}" (${text}) as a bool: strconv.ParseBool: parsing "${text}": invalid syntax`,
    );
  }
  return parsed;
}
