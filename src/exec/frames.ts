/**
 * Nomad's exec WebSocket frames as the gateway speaks them (Nomad API notes §9.2–9.4): pure
 * encoders for what the gateway sends and a validating decoder for what Nomad sends. No I/O.
 *
 * Every frame is one JSON object in a text message. Bytes travel as standard, padded base64
 * (Go's `[]byte` encoding), so any byte sequence, UTF-8 or not, round-trips.
 */
import type { ExecEnd, ExecOutputFrame } from './transport.ts';

/** An output stream as the frames name it. */
export type OutputStream = 'stdout' | 'stderr';

/** The exit frame's content: exactly the `exited` end of a connection. */
export type ExitFrame = Extract<ExecEnd, { kind: 'exited' }>;

/**
 * A decoded server frame: output (`stdout`/`stderr` data or its close), the command's exit, or
 * a frame with none of these, which Nomad's Go client treats as a heartbeat (Nomad sends none
 * today, but the docs list `{}` among the response frames).
 */
export type ServerFrame = ExecOutputFrame | ExitFrame | { kind: 'heartbeat' };

/** A server frame that is not what Nomad sends; the message says what was wrong and where. */
export class ExecFrameError extends Error {
  override readonly name = 'ExecFrameError';
}

/** Go's `int32`, the type of the proto fields (`exit_code`, `signal`, `height`, `width`). */
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** Standard base64 with padding, as Go's `encoding/json` writes `[]byte` (and insists on reading). */
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The first frame when `ws_handshake=true`: `{"version":1,"auth_token":"…"}`. An absent token is
 * sent as `""` (anonymous), which is what Nomad's UI sends.
 */
export function encodeHandshake(token: string | undefined): string {
  return JSON.stringify({ version: 1, auth_token: token ?? '' });
}

/**
 * Stdin data: `{"stdin":{"data":"<base64>"}}`. Never combined with `close`: Nomad's driver side
 * (`StreamToExecOptions`) drops the data of a frame that also closes stdin.
 */
export function encodeStdin(data: Uint8Array): string {
  return JSON.stringify({ stdin: { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') } });
}

/** Stdin EOF: `{"stdin":{"close":true}}`. */
export function encodeStdinClose(): string {
  return '{"stdin":{"close":true}}';
}

function checkDimension(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > INT32_MAX) {
    throw new RangeError(`terminal ${name} must be an integer from 0 to ${INT32_MAX}, got ${String(value)}`);
  }
}

/** A terminal resize: `{"tty_size":{"height":<rows>,"width":<cols>}}`. Throws `RangeError` for a non-integer or negative size. */
export function encodeResize(size: { height: number; width: number }): string {
  checkDimension('height', size.height);
  checkDimension('width', size.width);
  return JSON.stringify({ tty_size: { height: size.height, width: size.width } });
}

/** The heartbeat Nomad's clients send every 10 s: `{}`. */
export function encodeHeartbeat(): string {
  return '{}';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new ExecFrameError(`invalid Nomad exec frame at ${path}: expected ${expected}, got ${describe(value)}`);
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field Go would leave at its zero value: absent or `null`. */
function isAbsent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

function optionalBool(object: JsonObject, key: string, path: string): boolean {
  const value = object[key];
  if (isAbsent(value)) return false;
  if (typeof value !== 'boolean') return fail(`${path}.${key}`, 'a boolean', value);
  return value;
}

function optionalInt32(object: JsonObject, key: string, path: string): number {
  const value = object[key];
  if (isAbsent(value)) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    return fail(`${path}.${key}`, 'a 32-bit integer', value);
  }
  return value;
}

function optionalBytes(object: JsonObject, key: string, path: string): Buffer {
  const value = object[key];
  if (isAbsent(value)) return Buffer.alloc(0);
  if (typeof value !== 'string' || !STD_BASE64.test(value)) return fail(`${path}.${key}`, 'standard base64', value);
  return Buffer.from(value, 'base64');
}

/** `{"data":"…"}` or `{"close":true}` under `stdout`/`stderr`. */
function decodeOutput(stream: OutputStream, value: unknown): ExecOutputFrame {
  const path = `$.${stream}`;
  if (!isObject(value)) return fail(path, 'an object', value);
  const data = optionalBytes(value, 'data', path);
  const close = optionalBool(value, 'close', path);
  if (close && data.length > 0) {
    throw new ExecFrameError(`invalid Nomad exec frame at ${path}: carries both data and close`);
  }
  return close ? { kind: 'output-closed', stream } : { kind: 'output', stream, data };
}

/** `result` of the exit frame; omitted fields are zero (exit code 0 arrives as `{}`). */
function decodeExit(value: unknown): ExitFrame {
  const path = '$.result';
  if (!isObject(value)) return fail(path, 'an object (the exit result)', value);
  const signal = optionalInt32(value, 'signal', path);
  return {
    kind: 'exited',
    exitCode: optionalInt32(value, 'exit_code', path),
    signal: signal === 0 ? null : signal,
    oomKilled: optionalBool(value, 'oom_killed', path),
  };
}

/**
 * Decodes one text message from Nomad. Unknown fields are ignored; a frame that is not a JSON
 * object, has a field of the wrong type, bad base64, or carries more than one of `stdout`,
 * `stderr` and the exit is refused with an `ExecFrameError` naming the offending field.
 */
export function decodeServerFrame(text: string): ServerFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ExecFrameError(`invalid Nomad exec frame: not JSON (${detail})`);
  }
  if (!isObject(value)) return fail('$', 'a JSON object', value);
  const exited = optionalBool(value, 'exited', '$');
  const parts = [
    isAbsent(value['stdout']) ? undefined : 'stdout',
    isAbsent(value['stderr']) ? undefined : 'stderr',
    exited ? 'exited' : undefined,
  ].filter((part) => part !== undefined);
  if (parts.length > 1) throw new ExecFrameError(`invalid Nomad exec frame: carries ${parts.join(' and ')} at once`);
  if (!isAbsent(value['stdout'])) return decodeOutput('stdout', value['stdout']);
  if (!isAbsent(value['stderr'])) return decodeOutput('stderr', value['stderr']);
  // Nomad always sends `result` with `exited: true` (`{}` for exit code 0), so a missing one is refused.
  if (exited) return decodeExit(value['result']);
  return { kind: 'heartbeat' };
}
