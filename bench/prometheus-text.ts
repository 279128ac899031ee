/**
 * A reader of Prometheus's text exposition format (version 0.0.4, what prom-client writes at
 * `/metrics`), shared by the benchmarks (bench/gateway-metrics.ts) and the tests that scrape a
 * gateway. It depends on nothing else in bench/, so tests may import it.
 */

/** One sample line: `name{label="value",...} value [timestamp]`. */
export interface Sample {
  name: string;
  /** Label values unescaped (`\\`, `\"` and `\n` stand for a backslash, a quote and a line feed). */
  labels: Record<string, string>;
  /** `+Inf`, `-Inf` and `NaN` as the numbers they name. */
  value: number;
  /** Milliseconds since the epoch, where the line has one (prom-client writes none). */
  timestampMs?: number;
}

export interface ParseOptions {
  /**
   * A line that is neither a sample, a comment nor blank throws (with its line number) when true;
   * when false it is left out, for a reader that wants what it can get from an exposition it does
   * not control.
   * @default true
   */
  strict?: boolean;
}

/** A line of the exposition that is not a sample, a comment or blank. */
export class MalformedExpositionError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly line: string,
    reason: string,
  ) {
    super(`line ${lineNumber} of the exposition: ${reason}: ${JSON.stringify(line)}`);
    this.name = 'MalformedExpositionError';
  }
}

const METRIC_NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const BLANKS = /[ \t]*/y;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

/** A line read as a sample, or why it is not one. */
type Scan = { ok: true; sample: Sample } | { ok: false; reason: string };

/**
 * The samples of `text`, in order; `#` lines (HELP, TYPE and other comments) and blank lines are
 * skipped. Strict by default: see {@link ParseOptions.strict}.
 */
export function parsePrometheusText(text: string, options: ParseOptions = {}): Sample[] {
  const strict = options.strict ?? true;
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/^[ \t]+|[ \t\r]+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    const scan = scanSample(line);
    if (scan.ok) samples.push(scan.sample);
    else if (strict) throw new MalformedExpositionError(index + 1, raw, scan.reason);
  }
  return samples;
}

/** `+Inf`, `-Inf`, `NaN` or a decimal float, as Prometheus writes them; undefined otherwise. */
function parseValue(token: string): number | undefined {
  if (/^[+]?inf$/i.test(token)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(token)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(token)) return Number.NaN;
  return FLOAT.test(token) ? Number(token) : undefined;
}

function scanSample(line: string): Scan {
  METRIC_NAME.lastIndex = 0;
  const name = METRIC_NAME.exec(line)?.[0];
  if (name === undefined) return { ok: false, reason: 'no metric name' };
  let at = name.length;
  const pairs = new Map<string, string>();
  if (line[at] === '{') {
    const scanned = scanLabels(line, at + 1, pairs);
    if (typeof scanned === 'string') return { ok: false, reason: scanned };
    at = scanned;
  }
  // fromEntries defines each label as an own property, `__proto__` included.
  const labels = Object.fromEntries(pairs);
  const rest = line.slice(at);
  if (!/^[ \t]/.test(rest)) return { ok: false, reason: 'no blank between the metric and its value' };
  const tokens = rest.trim().split(/[ \t]+/);
  if (tokens.length > 2) return { ok: false, reason: 'more than a value and a timestamp after the metric' };
  const [valueToken = '', timestampToken] = tokens;
  const value = parseValue(valueToken);
  if (value === undefined) return { ok: false, reason: `${JSON.stringify(valueToken)} is not a value` };
  if (timestampToken === undefined) return { ok: true, sample: { name, labels, value } };
  if (!INTEGER.test(timestampToken)) return { ok: false, reason: `${JSON.stringify(timestampToken)} is not a timestamp` };
  return { ok: true, sample: { name, labels, value, timestampMs: Number(timestampToken) } };
}

/**
 * Reads `label="value"` pairs into `labels` from `start` (just after `{`) to the closing `}`;
 * returns the index after it, or why the block is malformed.
 */
function scanLabels(line: string, start: number, labels: Map<string, string>): number | string {
  let at = skipBlanks(line, start);
  while (line[at] !== '}') {
    LABEL_NAME.lastIndex = at;
    const name = LABEL_NAME.exec(line)?.[0];
    if (name === undefined) return `no label name at column ${at + 1}`;
    at = skipBlanks(line, at + name.length);
    if (line[at] !== '=') return `no "=" after label ${name}`;
    at = skipBlanks(line, at + 1);
    if (line[at] !== '"') return `label ${name}'s value is not quoted`;
    let value = '';
    for (at += 1; line[at] !== '"'; at += 1) {
      const char = line[at];
      if (char === undefined) return `label ${name}'s value is not closed`;
      if (char !== '\\') {
        value += char;
        continue;
      }
      at += 1;
      const escaped = line[at];
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else return `label ${name}'s value has an unknown escape \\${escaped ?? ''}`;
    }
    if (labels.has(name)) return `label ${name} appears twice`;
    labels.set(name, value);
    at = skipBlanks(line, at + 1);
    if (line[at] === ',') at = skipBlanks(line, at + 1);
    else if (line[at] !== '}') return `no "," or "}" after label ${name}`;
  }
  return at + 1;
}

function skipBlanks(line: string, at: number): number {
  BLANKS.lastIndex = at;
  BLANKS.exec(line);
  return BLANKS.lastIndex;
}
