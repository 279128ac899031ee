/**
 * Typed failures of a Nomad call. Every class names the request as `METHOD /path` (the path
 * without its query string), so messages are safe to log: the ACL token travels only in the
 * `X-Nomad-Token` header and never appears in a message, a path or a cause built here.
 *
 * A caller's own abort is deliberately NOT one of these: it surfaces as the caller's
 * `AbortSignal.reason` (by default a `DOMException` named `AbortError`).
 */
import type { QueryMeta } from './types.ts';

/** Common base, so callers can tell "Nomad said or did something" from their own bugs. */
export abstract class NomadError extends Error {
  /** HTTP method of the failed call, e.g. `GET`; empty for a decode outside any call. */
  readonly method: string;
  /** Request path without the query string, e.g. `/v1/allocation/5457f16d-…`. */
  readonly path: string;

  protected constructor(message: string, request: NomadRequestLabel | undefined, options?: ErrorOptions) {
    super(message, options);
    this.method = request?.method ?? '';
    this.path = request?.path ?? '';
  }
}

/** The method and query-less path of a call, used in every message. */
export interface NomadRequestLabel {
  readonly method: string;
  readonly path: string;
}

/** Longest part of an error body repeated in a message (a proxy may answer with a whole HTML page). */
const MESSAGE_BODY_CHARS = 512;

function label(request: NomadRequestLabel): string {
  return `Nomad ${request.method} ${request.path}`;
}

/**
 * Nomad answered with a status other than 200. Like the official Go client, even 204 and other
 * 2xx codes count as failures. Nomad's error bodies are plain text without a trailing newline.
 */
export class NomadHttpError extends NomadError {
  override readonly name = 'NomadHttpError';
  /** The HTTP status, e.g. 404, 403, 500. */
  readonly status: number;
  /** Nomad's plain-text body, e.g. `alloc not found`; empty when Nomad sent no body. */
  readonly nomadMessage: string;
  /**
   * The `X-Nomad-*` headers of the error response. A 404 from `GET /v1/allocation/:id` carries
   * `X-Nomad-Index`, which lets a caller block until that allocation appears.
   */
  readonly meta: QueryMeta;

  constructor(init: NomadRequestLabel & { status: number; nomadMessage: string; meta: QueryMeta }) {
    const text = init.nomadMessage;
    const body =
      text === '' ? '(empty body)' : text.length > MESSAGE_BODY_CHARS ? `${text.slice(0, MESSAGE_BODY_CHARS)}…` : text;
    super(`${label(init)}: ${init.status} ${body}`, init);
    this.status = init.status;
    this.nomadMessage = init.nomadMessage;
    this.meta = init.meta;
  }
}

/**
 * Nomad could not be reached or the connection broke: connection refused or reset, DNS failure,
 * TLS handshake or certificate failure, connect timeout of the socket layer. `cause` holds the
 * underlying error (with its `code`, e.g. `ECONNREFUSED`).
 */
export class NomadUnavailableError extends NomadError {
  override readonly name = 'NomadUnavailableError';
  /** The underlying system or undici error code when there is one, e.g. `ECONNREFUSED`. */
  readonly code: string;

  constructor(init: NomadRequestLabel & { cause: unknown }) {
    const code = errorCode(init.cause);
    const detail = init.cause instanceof Error ? init.cause.message : String(init.cause);
    super(`${label(init)}: Nomad unavailable (${code === '' ? detail : `${code}: ${detail}`})`, init, {
      cause: init.cause,
    });
    this.code = code;
  }
}

/** Our own per-call deadline fired before Nomad finished answering. Not a caller abort. */
export class NomadTimeoutError extends NomadError {
  override readonly name = 'NomadTimeoutError';
  /** The deadline that fired, in milliseconds (for blocking queries it includes the wait). */
  readonly timeoutMs: number;

  constructor(init: NomadRequestLabel & { timeoutMs: number }) {
    super(`${label(init)}: no complete response within ${init.timeoutMs} ms`, init);
    this.timeoutMs = init.timeoutMs;
  }
}

/**
 * Nomad answered 200 but the body was not what we expected: not JSON, or a field of the wrong
 * JSON type, an unknown enum value, an integer out of range. `jsonPath` points at the bad value,
 * e.g. `$[3].TaskStates.web.Events[0].Time`.
 */
export class NomadDecodeError extends NomadError {
  override readonly name = 'NomadDecodeError';
  /** JSONPath-like location of the offending value; `$` is the whole body. */
  readonly jsonPath: string;
  /** What the decoder wanted, e.g. `an int64 (safe integer or digit string)`. */
  readonly expected: string;
  /** A short description of what was there, e.g. `string "finished"` or `object`. */
  readonly received: string;

  constructor(
    init: { jsonPath: string; expected: string; received: string; request?: NomadRequestLabel },
    options?: ErrorOptions,
  ) {
    const where = `at ${init.jsonPath}: expected ${init.expected}, got ${init.received}`;
    const message =
      init.request === undefined
        ? `Unexpected Nomad JSON ${where}`
        : `${label(init.request)}: unexpected response ${where}`;
    super(message, init.request, options);
    this.jsonPath = init.jsonPath;
    this.expected = init.expected;
    this.received = init.received;
  }

  /** The same error, labelled with the call that produced the body. */
  withRequest(request: NomadRequestLabel): NomadDecodeError {
    return new NomadDecodeError(
      { jsonPath: this.jsonPath, expected: this.expected, received: this.received, request },
      { cause: this.cause },
    );
  }
}

/** The `code` property of a Node/undici error, or `''`. */
export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null || !('code' in error)) return '';
  const { code } = error;
  return typeof code === 'string' ? code : '';
}
