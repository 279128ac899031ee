/**
 * Pure encoding and decoding of the exec WebSocket's frames (Nomad API notes §9.2–9.4), with
 * the error texts Go's `encoding/json` gives, since Nomad sends them to clients as close reasons.
 */
import { parseGoBool } from '../query-params.ts';

/** The generic executor sends at most this many raw bytes per stdout/stderr frame. */
export const MAX_OUTPUT_CHUNK_BYTES = 1024;

/** A decoded client frame. A frame with neither `stdin`, `ttySize` nor `setup` is a heartbeat. */
export interface ClientFrame {
  stdin?: { data: Buffer; close: boolean };
  ttySize?: { height: number; width: number };
  /** The frame carried `setup`, which only the driver side may send: `unexpected message type`. */
  setup: boolean;
}

/** The first client frame when `ws_handshake=true`. */
export interface Handshake {
  version: number;
  authToken: string;
}

/** A decoded value, or the text Nomad would close the socket with. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/** An output stream as the frames name it. */
export type OutputStream = 'stdout' | 'stderr';

/** How Go reads the input: `Unmarshal` wants exactly one value; a `Decoder` reads the first. */
type GoReader = 'unmarshal' | 'decoder';

/** A syntax or type error, with the text Go's `encoding/json` (or `encoding/base64`) gives. */
class GoJsonError extends Error {}

const GO_ESCAPES: Readonly<Record<number, string>> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };

/** Go's `quoteChar`: the byte as `strconv.Quote` shows it, between single quotes. */
function quoteChar(byte: number): string {
  if (byte === 0x27) return `'\\''`;
  if (byte === 0x22) return `'"'`;
  const hex = byte.toString(16).padStart(2, '0');
  const unprintable = byte < 0x20 || byte === 0x7f ? `\\x${hex}` : (byte >= 0x80 && byte <= 0xa0) || byte === 0xad ? `\\u00${hex}` : undefined;
  return `'${GO_ESCAPES[byte] ?? unprintable ?? String.fromCharCode(byte)}'`;
}

/**
 * Go's `encoding/json` scanner, reduced to finding the first syntax error: returns the end of
 * the first value, or throws GoJsonError with Go's message (`invalid character 'x' …`).
 */
function scanValue(bytes: Buffer, reader: GoReader): number {
  let i = 0;
  const eof = (): never => {
    throw new GoJsonError(reader === 'unmarshal' ? 'unexpected end of JSON input' : 'unexpected EOF');
  };
  const peek = (): number => (i < bytes.length ? (bytes[i] ?? 0) : eof());
  const invalid = (context: string): never => {
    throw new GoJsonError(`invalid character ${quoteChar(peek())} ${context}`);
  };
  const skipSpace = (): void => {
    while (i < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i] ?? 0)) i++;
  };
  const isDigit = (): boolean => peek() >= 0x30 && peek() <= 0x39;
  const digits = (context: string): void => {
    if (!isDigit()) invalid(context);
    while (i < bytes.length && isDigit()) i++;
  };
  const string = (): void => {
    i++;
    for (let c = peek(); c !== 0x22; c = peek()) {
      if (c < 0x20) invalid('in string literal');
      i++;
      if (c !== 0x5c) continue;
      const escape = peek();
      if (!'"\\/bfnrtu'.includes(String.fromCharCode(escape))) invalid('in string escape code');
      i++;
      for (let k = 0; escape === 0x75 && k < 4; k++, i++) {
        if (!/[0-9a-fA-F]/.test(String.fromCharCode(peek()))) invalid('in \\u hexadecimal character escape');
      }
    }
    i++;
  };
  const number = (): void => {
    if (peek() === 0x2d) i++;
    if (peek() === 0x30) i++;
    else digits('in numeric literal');
    if (i < bytes.length && peek() === 0x2e) {
      i++;
      digits('after decimal point in numeric literal');
    }
    if (i < bytes.length && (peek() === 0x65 || peek() === 0x45)) {
      i++;
      if (peek() === 0x2b || peek() === 0x2d) i++;
      digits('in exponent of numeric literal');
    }
  };
  const literal = (word: string): void => {
    for (const char of word) {
      if (peek() !== char.charCodeAt(0)) invalid(`in literal ${word} (expecting ${quoteChar(char.charCodeAt(0))})`);
      i++;
    }
  };
  const sequence = (close: number, item: () => void, after: string): void => {
    i++;
    skipSpace();
    if (peek() === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (peek() === close) break;
      if (peek() !== 0x2c) invalid(after);
      i++;
      skipSpace();
    }
    i++;
  };
  const member = (): void => {
    if (peek() !== 0x22) invalid('looking for beginning of object key string');
    string();
    skipSpace();
    if (peek() !== 0x3a) invalid('after object key');
    i++;
    skipSpace();
    value();
  };
  const value = (): void => {
    const c = peek();
    if (c === 0x7b) sequence(0x7d, member, 'after object key:value pair');
    else if (c === 0x5b) sequence(0x5d, value, 'after array element');
    else if (c === 0x22) string();
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) number();
    else if (c === 0x74) literal('true');
    else if (c === 0x66) literal('false');
    else if (c === 0x6e) literal('null');
    else invalid('looking for beginning of value');
  };
  skipSpace();
  value();
  const end = i;
  skipSpace();
  if (reader === 'unmarshal' && i < bytes.length) invalid('after top-level value');
  return end;
}

function goKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** A struct field as Go finds it: exact or case-insensitive key, the last one in the object wins. */
function field(object: Record<string, unknown>, name: string): unknown {
  let found: unknown = null;
  for (const [key, value] of Object.entries(object)) {
    if (key.toLowerCase() === name.toLowerCase()) found = value;
  }
  return found;
}

function typeError(value: unknown, target: string): never {
  throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into ${target}`);
}

/** A JSON object decoded into a Go struct pointer: null leaves it nil (undefined). */
function structObject(value: unknown, target: string): Record<string, unknown> | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return typeError(value, target);
  return Object.fromEntries(Object.entries(value));
}

/** Go's `[]byte` from a JSON string: strict standard base64, `\r` and `\n` ignored. */
function base64Bytes(value: unknown, target: string): Buffer {
  if (value === null) return Buffer.alloc(0);
  if (typeof value !== 'string') typeError(value, target);
  const text = value.replace(/[\r\n]/g, '');
  const bad = /[^A-Za-z0-9+/=]|=[^=]|={3}/.exec(text);
  if (bad !== null || text.length % 4 !== 0) {
    const at = bad?.index ?? text.length - (text.length % 4);
    throw new GoJsonError(`illegal base64 data at input byte ${at}`);
  }
  return Buffer.from(text, 'base64');
}

/** A Go integer: `int32`, or `int` (64 bits, held to JavaScript's safe range). */
function goInt(value: unknown, target: string, bits: 32 | 64): number {
  if (value === null) return 0;
  if (typeof value !== 'number') typeError(value, target);
  const fits = bits === 32 ? value >= -(2 ** 31) && value < 2 ** 31 : Number.isSafeInteger(value);
  if (!Number.isInteger(value) || !fits) throw new GoJsonError(`json: cannot unmarshal number ${value} into ${target}`);
  return value;
}

function goString(value: unknown, target: string): string {
  if (value === null) return '';
  return typeof value === 'string' ? value : typeError(value, target);
}

function bool(value: unknown, target: string): boolean {
  if (value === null) return false;
  return typeof value === 'boolean' ? value : typeError(value, target);
}

/** Reads JSON as Go does (syntax first, then `build` checks types against the Go struct). */
function decodeWith<T>(input: string | Buffer, reader: GoReader, build: (value: unknown) => T): Decoded<T> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  try {
    const end = scanValue(bytes, reader);
    const parsed: unknown = JSON.parse(bytes.subarray(0, end).toString('utf8'));
    return { ok: true, value: build(parsed) };
  } catch (error) {
    if (error instanceof GoJsonError) return { ok: false, error: error.message };
    throw error;
  }
}

const FIELD = {
  stdin: 'Go struct field ExecTaskStreamingRequest.stdin of type proto.ExecTaskStreamingIOOperation',
  ttySize: 'Go struct field ExecTaskStreamingRequest.tty_size of type proto.ExecTaskStreamingRequest_TerminalSize',
  stdinPart: 'Go struct field ExecTaskStreamingIOOperation.stdin',
  sizePart: 'Go struct field ExecTaskStreamingRequest_TerminalSize.tty_size',
} as const;

/** Decodes a client frame as Nomad's `ws.ReadJSON` into `ExecTaskStreamingRequest` does. */
export function decodeClientFrame(input: string | Buffer): Decoded<ClientFrame> {
  return decodeWith(input, 'decoder', (value) => {
    const frame: ClientFrame = { setup: false };
    const root = structObject(value, 'Go value of type proto.ExecTaskStreamingRequest');
    if (root === undefined) return frame;
    frame.setup = field(root, 'setup') !== null;
    const stdin = structObject(field(root, 'stdin'), FIELD.stdin);
    if (stdin !== undefined) {
      frame.stdin = {
        data: base64Bytes(field(stdin, 'data'), `${FIELD.stdinPart}.data of type []uint8`),
        close: bool(field(stdin, 'close'), `${FIELD.stdinPart}.close of type bool`),
      };
    }
    const size = structObject(field(root, 'tty_size'), FIELD.ttySize);
    if (size !== undefined) {
      frame.ttySize = {
        height: goInt(field(size, 'height'), `${FIELD.sizePart}.height of type int32`, 32),
        width: goInt(field(size, 'width'), `${FIELD.sizePart}.width of type int32`, 32),
      };
    }
    return frame;
  });
}

/** Decodes the `ws_handshake` frame (`{"version":1,"auth_token":"…"}`); checks no values. */
export function decodeHandshake(input: string | Buffer): Decoded<Handshake> {
  return decodeWith(input, 'decoder', (value) => {
    const root = structObject(value, 'Go value of type agent.wsHandshakeMessage');
    if (root === undefined) return { version: 0, authToken: '' };
    return {
      version: goInt(field(root, 'version'), 'Go struct field wsHandshakeMessage.version of type int', 64),
      authToken: goString(field(root, 'auth_token'), 'Go struct field wsHandshakeMessage.auth_token of type string'),
    };
  });
}

/** The `command` query parameter: `json.Unmarshal` into `[]string` (null elements become ""). */
export function decodeCommand(text: string): Decoded<string[]> {
  return decodeWith(text, 'unmarshal', (value) => {
    if (value === null) return [];
    if (!Array.isArray(value)) return typeError(value, 'Go value of type []string');
    return value.map((item: unknown) => goString(item, 'Go value of type string'));
  });
}

/** A boolean query parameter as Go's `strconv.ParseBool` reads it, with its error text. */
export function decodeGoBool(text: string): Decoded<boolean> {
  const value = parseGoBool(text);
  return value === undefined
    ? { ok: false, error: `strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax` }
    : { ok: true, value };
}

/** Output frames for one chunk of a stream, at most MAX_OUTPUT_CHUNK_BYTES raw bytes each. */
export function encodeOutput(stream: OutputStream, bytes: Uint8Array): string[] {
  const frames: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += MAX_OUTPUT_CHUNK_BYTES) {
    const data = Buffer.from(bytes.subarray(offset, offset + MAX_OUTPUT_CHUNK_BYTES)).toString('base64');
    frames.push(`{"${stream}":{"data":"${data}"}}`);
  }
  return frames;
}

/** The frame that says a stream has ended: `{"stdout":{"close":true}}`. */
export function encodeStreamClose(stream: OutputStream): string {
  return `{"${stream}":{"close":true}}`;
}

/** The exit frame; exit code 0 is omitted (`"result":{}`) as go-msgpack's omitempty does. */
export function encodeExit(exitCode: number): string {
  return exitCode === 0 ? '{"exited":true,"result":{}}' : `{"exited":true,"result":{"exit_code":${exitCode}}}`;
}
