/**
 * What replicas send each other about exec sessions: a keystroke (or resize) accepted by one
 * replica for a session another replica holds, and the holder's answer. JSON, validated on
 * arrival, never cast; no token crosses, only its digest.
 */
import { at, bool, expectObject, fail, int, str } from '../nomad/decode-fields.ts';

const VERSION = 1;

/** To the session's channel (`exec:<sessionId>`): apply this for the caller whose token digest is given. */
export type ExecRequestMessage =
  | { kind: 'input'; requestId: string; replyTo: string; tokenDigest: string; data: Buffer; close: boolean }
  | { kind: 'resize'; requestId: string; replyTo: string; tokenDigest: string; height: number; width: number };

/** To the asking replica's reply channel (`exec-reply:<replicaId>`). */
export type ExecReplyMessage =
  | { requestId: string; ok: true; bytesWritten: number }
  | { requestId: string; ok: false; code: string; message: string };

export function encodeExecRequest(message: ExecRequestMessage): string {
  if (message.kind === 'input') {
    const { data, ...rest } = message;
    return JSON.stringify({ v: VERSION, ...rest, data: data.toString('base64') });
  }
  return JSON.stringify({ v: VERSION, ...message });
}

export function encodeExecReply(message: ExecReplyMessage): string {
  return JSON.stringify({ v: VERSION, ...message });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parse(text: string): Readonly<Record<string, unknown>> {
  const o = expectObject(JSON.parse(text), undefined);
  if (o['v'] !== VERSION) fail(at(undefined, 'v'), `version ${VERSION}`, o['v']);
  return o;
}

function nonEmpty(o: Readonly<Record<string, unknown>>, key: string): string {
  const value = str(o, key, undefined);
  if (value === '') fail(at(undefined, key), 'a non-empty string', o[key]);
  return value;
}

/** Throws (SyntaxError or NomadDecodeError, with the JSON path) on anything but a valid request. */
export function decodeExecRequest(text: string): ExecRequestMessage {
  const o = parse(text);
  const common = { requestId: nonEmpty(o, 'requestId'), replyTo: nonEmpty(o, 'replyTo'), tokenDigest: nonEmpty(o, 'tokenDigest') };
  if (o['kind'] === 'input') {
    const data = str(o, 'data', undefined);
    if (!BASE64.test(data)) fail(at(undefined, 'data'), 'base64', o['data']);
    return { kind: 'input', ...common, data: Buffer.from(data, 'base64'), close: bool(o, 'close', undefined) };
  }
  if (o['kind'] === 'resize') return { kind: 'resize', ...common, height: int(o, 'height', undefined), width: int(o, 'width', undefined) };
  return fail(at(undefined, 'kind'), '"input" or "resize"', o['kind']);
}

export function decodeExecReply(text: string): ExecReplyMessage {
  const o = parse(text);
  const requestId = nonEmpty(o, 'requestId');
  if (o['ok'] === true) return { requestId, ok: true, bytesWritten: int(o, 'bytesWritten', undefined) };
  if (o['ok'] === false) return { requestId, ok: false, code: nonEmpty(o, 'code'), message: str(o, 'message', undefined) };
  return fail(at(undefined, 'ok'), 'a boolean', o['ok']);
}
