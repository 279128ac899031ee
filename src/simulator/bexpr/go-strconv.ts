/**
 * The parts of Go's `strconv` that go-bexpr relies on: `Quote` (for error texts), `Unquote`
 * (string literals), and `ParseBool` / `ParseInt` / `ParseUint` (base 0, 64 bits) / `ParseFloat`.
 * Parsers return the value, or `'syntax'` / `'range'` for `ErrSyntax` / `ErrRange`.
 */

/** Why a Go `strconv` parse failed. */
export type StrconvProblem = 'syntax' | 'range';

const QUOTE_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"',
};

function quoteChar(char: string): string {
  const short = QUOTE_ESCAPES[char];
  if (short !== undefined) return short;
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if ((code >= 0x80 && code < 0xa0) || code === 0x2028 || code === 0x2029) return `\\u${code.toString(16).padStart(4, '0')}`;
  return char;
}

/** Go's `strconv.Quote` (also what `%q` and `%#v` print for a string). */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) out += quoteChar(char);
  return `${out}"`;
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
const HEX_ESCAPE_LENGTH: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };
const encoder = new TextEncoder();

interface Unescaped {
  readonly bytes: readonly number[];
  readonly next: number;
}

function unescapeHex(chars: readonly string[], i: number, length: number): Unescaped | undefined {
  const digits = chars.slice(i + 1, i + 1 + length).join('');
  if (digits.length !== length || !/^[0-9a-fA-F]+$/.test(digits)) return undefined;
  const code = Number.parseInt(digits, 16);
  const next = i + 1 + length;
  if (chars[i] === 'x') return { bytes: [code], next };
  if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) return undefined;
  return { bytes: [...encoder.encode(String.fromCodePoint(code))], next };
}

/** Decodes the escape whose letter is `chars[i]` (just after the backslash), like Go's `UnquoteChar`. */
function unescape(chars: readonly string[], i: number): Unescaped | undefined {
  const kind = chars[i] ?? '';
  const simple = SIMPLE_ESCAPES[kind];
  if (simple !== undefined) return { bytes: [simple], next: i + 1 };
  const hexLength = HEX_ESCAPE_LENGTH[kind];
  if (hexLength !== undefined) return unescapeHex(chars, i, hexLength);
  const octal = chars.slice(i, i + 3).join('');
  if (!/^[0-7]{3}$/.test(octal) || Number.parseInt(octal, 8) > 255) return undefined;
  return { bytes: [Number.parseInt(octal, 8)], next: i + 3 };
}

/**
 * Go's `strconv.Unquote` for a complete `"..."` or `` `...` `` literal; undefined on bad syntax.
 * Raw strings lose their carriage returns; bytes from `\x`/octal escapes are decoded as UTF-8.
 */
export function goUnquote(literal: string): string | undefined {
  const body = literal.slice(1, -1);
  if (literal.startsWith('`')) return body.replaceAll('\r', '');
  if (body.includes('\n')) return undefined;
  const chars = Array.from(body);
  const bytes: number[] = [];
  for (let i = 0; i < chars.length; ) {
    const char = chars[i] ?? '';
    if (char !== '\\') {
      bytes.push(...encoder.encode(char));
      i += 1;
      continue;
    }
    const decoded = unescape(chars, i + 1);
    if (decoded === undefined) return undefined;
    bytes.push(...decoded.bytes);
    i = decoded.next;
  }
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes));
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_LIMIT = 1n << 63n;

/** Go's `underscoreOK`: underscores only between digits, or between a base prefix and a digit. */
function underscoreOk(text: string): boolean {
  const s = text.replace(/^[+-]/, '');
  const prefixed = /^0[box]/i.test(s);
  const hex = /^0x/i.test(s);
  let saw = prefixed ? '0' : '^';
  for (const char of prefixed ? s.slice(2) : s) {
    if (/[0-9]/.test(char) || (hex && /[a-f]/i.test(char))) saw = '0';
    else if (char === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else if (saw === '_') return false;
    else saw = '!';
  }
  return saw !== '_';
}

function basePrefix(text: string): { base: number; skip: number } {
  const letter = text.length >= 3 ? /^0([box])/i.exec(text)?.[1]?.toLowerCase() : undefined;
  if (letter !== undefined) return { base: letter === 'b' ? 2 : letter === 'o' ? 8 : 16, skip: 2 };
  return text.startsWith('0') ? { base: 8, skip: 1 } : { base: 10, skip: 0 };
}

/** Go's `strconv.ParseUint(text, 0, 64)`. */
export function parseGoUint(text: string): bigint | StrconvProblem {
  if (text === '') return 'syntax';
  const { base, skip } = basePrefix(text);
  let result = 0n;
  for (const char of text.slice(skip)) {
    if (char === '_') continue;
    const digit = /^[0-9a-z]$/i.test(char) ? Number.parseInt(char, 36) : Number.POSITIVE_INFINITY;
    if (digit >= base) return 'syntax';
    result = result * BigInt(base) + BigInt(digit);
    if (result > UINT64_MAX) return 'range';
  }
  return text.includes('_') && !underscoreOk(text) ? 'syntax' : result;
}

/** Go's `strconv.ParseInt(text, 0, 64)`. */
export function parseGoInt(text: string): bigint | StrconvProblem {
  const negative = text.startsWith('-');
  const magnitude = parseGoUint(/^[+-]/.test(text) ? text.slice(1) : text);
  if (typeof magnitude !== 'bigint') return magnitude;
  if (negative ? magnitude > INT64_LIMIT : magnitude >= INT64_LIMIT) return 'range';
  return negative ? -magnitude : magnitude;
}

/** Go's `strconv.ParseFloat(text, 64)` for decimal, `inf`/`infinity` and `nan` (no hex floats). */
export function parseGoFloat(text: string): number | StrconvProblem {
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  const plain = text.replaceAll('_', '');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(plain) || (plain !== text && !underscoreOk(text))) return 'syntax';
  const value = Number(plain);
  return Number.isFinite(value) ? value : 'range';
}

/** Go's `strconv.ParseBool`. */
export function parseGoBool(text: string): boolean | StrconvProblem {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return 'syntax';
}
