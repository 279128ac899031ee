/**
 * The one place that talks HTTP to Nomad: URL building, the `X-Nomad-Token` header, gzip,
 * `X-Nomad-*` metadata, deadlines and error mapping. Endpoint knowledge lives in `client.ts`.
 *
 * Behaviour copied from the official Go client (`api/api.go`): only status 200 is a success
 * (204 and every other code become `NomadHttpError`), `wait` is sent as `<ms>ms`, `stale` as an
 * empty value, and metadata header parse failures are ignored.
 */
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { Agent, buildConnector, request } from 'undici';
import type { Dispatcher } from 'undici';
import { errorCode, NomadDecodeError, NomadHttpError, NomadTimeoutError, NomadUnavailableError } from './errors.ts';
import type { NomadRequestLabel } from './errors.ts';
import { encodeNomadJson, parseNomadJson } from './json.ts';
import { isSendableToken } from './token.ts';
import type { QueryMeta } from './types.ts';

/** Per-call deadline when the caller sets none. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Nomad's `MaxBlockingRPCQueryTime` and `DefaultBlockingRPCQueryTime`: 300 s. */
export const MAX_BLOCKING_WAIT_MS = 300_000;

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
/** undici errors that mean "you called me wrongly", not "Nomad is unreachable". */
const PROGRAMMER_ERROR_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_DESTROYED']);
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** TLS settings for an `https://` Nomad address, mirroring Nomad's own `tls` client settings. */
export interface NomadTlsOptions {
  /** PEM CA certificate(s) to trust instead of Node's built-in roots (`NOMAD_CACERT`). */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** PEM client certificate for mutual TLS (`NOMAD_CLIENT_CERT`). Needs `key`. */
  cert?: string | Buffer;
  /** PEM private key of `cert` (`NOMAD_CLIENT_KEY`). */
  key?: string | Buffer;
  /**
   * Name sent as SNI and checked against the server certificate instead of the address's host
   * (`NOMAD_TLS_SERVER_NAME`), e.g. `server.global.nomad`.
   */
  serverName?: string;
  /** Skip certificate verification (`NOMAD_SKIP_VERIFY`). For development only. @default false */
  insecureSkipVerify?: boolean;
}

/** How to reach Nomad. One transport owns one connection pool. */
export interface NomadTransportOptions {
  /** Base URL of a Nomad agent, e.g. `http://127.0.0.1:4646`; a path prefix is kept (proxies). */
  address: string;
  /** Default per-call deadline in milliseconds. @default 10000 */
  timeoutMs?: number;
  /** TLS settings; only allowed with an `https://` address, and not together with `dispatcher`. */
  tls?: NomadTlsOptions;
  /**
   * An undici dispatcher to use instead of the transport's own keep-alive `Agent` (tests,
   * proxies). The transport never closes a dispatcher it did not create.
   */
  dispatcher?: Dispatcher;
  /**
   * Ask Nomad for gzip bodies (`Accept-Encoding: gzip`), as Nomad's Go client does. Worth it over
   * a slow link; next to Nomad it costs the server and the gateway more CPU than it saves.
   * @default true
   */
  gzip?: boolean;
  /**
   * Told about every exchange with Nomad once it ends (metrics). Called before `send` settles; it
   * must not throw. Carries the route template, never the path (which holds ids) or the token.
   */
  onExchange?: (exchange: NomadExchange) => void;
  /** Milliseconds from an arbitrary origin, for `NomadExchange.durationMs`. @default performance.now */
  now?: () => number;
}

/** One HTTP exchange with Nomad, as `onExchange` reports it. */
export interface NomadExchange {
  method: NomadHttpRequest<unknown>['method'];
  /** The request's `route` template, e.g. `/v1/allocation/:id`; `other` when the request named none. */
  route: string;
  /**
   * Nomad's HTTP status; `timeout` when the deadline passed, `aborted` when the caller's signal
   * fired, `error` when no answer came (connection refused or reset, TLS failure...).
   */
  status: number | 'error' | 'timeout' | 'aborted';
  /** From sending the request to having read the whole body (or to the failure). */
  durationMs: number;
  /** Whether it was a blocking query (`index` > 0), which Nomad may hold for up to its wait. */
  blocking: boolean;
}

/** The blocking-query options of a read (Nomad's `QueryOptions`). */
export interface BlockingOptions {
  /** Block until the result's index exceeds this one (`?index=`). Only values > 0 block. */
  index?: bigint;
  /**
   * Longest time Nomad should block, in ms (`?wait=<ms>ms`). Nomad uses 300 s when absent and
   * clamps larger values to 300 s.
   */
  waitMs?: number;
  /** Let any server answer from its own state (`?stale=`). @default false */
  stale?: boolean;
}

/** One call. `path` is already URL-encoded; `params` are the endpoint's own query parameters. */
export interface NomadHttpRequest<T> extends BlockingOptions {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  /**
   * The endpoint's path template with `:name` placeholders (`/v1/allocation/:id`), for
   * `onExchange`: what metrics are labelled with, since `path` holds ids. @default 'other'
   */
  route?: string;
  /** Endpoint query parameters; `undefined` values are left out. */
  params?: Readonly<Record<string, string | undefined>>;
  /** ACL token, sent only as `X-Nomad-Token`; empty or absent means anonymous. */
  token?: string;
  namespace?: string;
  region?: string;
  /** JSON request body, encoded with `encodeNomadJson`. */
  body?: unknown;
  /** The caller's cancellation; its `reason` is what the call rejects with. */
  signal?: AbortSignal;
  /** Overrides the transport's default deadline (blocking queries add their wait to it). */
  timeoutMs?: number;
  /** Turns the parsed 200 body into `T`; throws `NomadDecodeError`. */
  decode: (value: unknown) => T;
}

/** A decoded 200 response with its `X-Nomad-*` metadata. */
export interface NomadHttpResponse<T> {
  body: T;
  meta: QueryMeta;
}

/** Sends requests to one Nomad address over one connection pool. */
export interface NomadTransport {
  /**
   * Sends one request. Rejects with `NomadHttpError` (status ≠ 200), `NomadUnavailableError`,
   * `NomadTimeoutError`, `NomadDecodeError`, or the caller signal's reason when it aborts.
   */
  send<T>(request: NomadHttpRequest<T>): Promise<NomadHttpResponse<T>>;
  /** Closes the owned connection pool (not an injected dispatcher). Idempotent. */
  close(): Promise<void>;
}

type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

interface RawResponse {
  status: number;
  headers: HeaderBag;
  bytes: Buffer;
}

/**
 * Parses a Nomad base address (`http(s)://host:port[/prefix]`); throws `TypeError` for anything
 * but an http(s) URL without credentials, query or fragment. Shared with the exec WebSocket.
 */
export function parseAddress(address: string): { origin: string; prefix: string; secure: boolean } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`Nomad address is not a URL: ${JSON.stringify(address)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Nomad address must be http:// or https://, got ${JSON.stringify(url.protocol)}`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new TypeError('Nomad address must not carry credentials, a query or a fragment');
  }
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, ''), secure: url.protocol === 'https:' };
}

/**
 * Formats `wait` as the Go client does (`durToMsec`): whole milliseconds with an `ms` unit, at
 * least `1ms` for a positive duration. Returns `undefined` for 0 (nothing sent).
 */
export function formatWait(waitMs: number): string | undefined {
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new RangeError(`waitMs must be a finite number ≥ 0`);
  if (waitMs === 0) return undefined;
  return `${Math.max(1, Math.floor(waitMs))}ms`;
}

/**
 * The query string of a request, keys sorted like Go's `url.Values.Encode`. Standard options go
 * out as `region`, `namespace`, `stale=` (empty value), `index` (only when > 0) and `wait`.
 */
export function buildQuery(req: Omit<NomadHttpRequest<unknown>, 'decode' | 'method' | 'path'>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(req.params ?? {})) if (value !== undefined) query.append(key, value);
  if (req.region !== undefined && req.region !== '') query.set('region', req.region);
  if (req.namespace !== undefined && req.namespace !== '') query.set('namespace', req.namespace);
  if (req.stale === true) query.set('stale', '');
  if (req.index !== undefined && req.index !== 0n) {
    if (req.index < 0n) throw new RangeError('index must be ≥ 0');
    query.set('index', req.index.toString());
  }
  const wait = req.waitMs === undefined ? undefined : formatWait(req.waitMs);
  if (wait !== undefined) query.set('wait', wait);
  query.sort();
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * The longest a call may take. A plain call gets `timeoutMs`. A blocking query (`index > 0`) may
 * legitimately be held by Nomad for min(wait or 300 s, 300 s) plus jitter below wait/16, so it
 * gets that worst case (wait × 17/16) plus `timeoutMs` as slack.
 */
export function callDeadlineMs(timeoutMs: number, blocking: BlockingOptions): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
  if (blocking.index === undefined || blocking.index <= 0n) return timeoutMs;
  const requested = blocking.waitMs;
  const wait =
    requested === undefined || requested <= 0 ? MAX_BLOCKING_WAIT_MS : Math.min(requested, MAX_BLOCKING_WAIT_MS);
  return Math.ceil((wait * 17) / 16) + timeoutMs;
}

function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/**
 * Reads `X-Nomad-Index`, `X-Nomad-KnownLeader`, `X-Nomad-LastContact` and `X-Nomad-NextToken`,
 * matching names case-insensitively (Go sends `X-Nomad-Knownleader`). Unparseable values fall
 * back to the zero value, as in the Go client.
 */
export function parseQueryMeta(headers: HeaderBag): QueryMeta {
  const meta: QueryMeta = { LastIndex: 0n, KnownLeader: false, LastContact: 0, NextToken: '' };
  for (const name of Object.keys(headers)) {
    const value = firstHeader(headers[name]);
    if (value === undefined) continue;
    switch (name.toLowerCase()) {
      case 'x-nomad-index':
        if (/^\d{1,20}$/.test(value) && BigInt(value) < 2n ** 64n) meta.LastIndex = BigInt(value);
        break;
      case 'x-nomad-knownleader':
        meta.KnownLeader = value === 'true';
        break;
      case 'x-nomad-lastcontact':
        if (/^\d{1,15}$/.test(value)) meta.LastContact = Number(value);
        break;
      case 'x-nomad-nexttoken':
        meta.NextToken = value;
        break;
      default:
        break;
    }
  }
  return meta;
}

function buildAgent(tls: NomadTlsOptions | undefined): Agent {
  // No undici header/body timeouts: blocking queries legitimately last ~319 s, past undici's
  // 300 s defaults. Our own deadline (callDeadlineMs) covers the whole call instead.
  const base = { headersTimeout: 0, bodyTimeout: 0 };
  if (tls === undefined) return new Agent(base);
  const connect = {
    ca: tls.ca === undefined || typeof tls.ca === 'string' || Buffer.isBuffer(tls.ca) ? tls.ca : [...tls.ca],
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.insecureSkipVerify !== true,
  };
  const { serverName } = tls;
  if (serverName === undefined) return new Agent({ ...base, connect });
  // undici derives SNI from the request's Host for DNS names, which would override a static
  // `servername`; force ours on every connection instead.
  const connector = buildConnector({ ...connect, servername: serverName });
  return new Agent({
    ...base,
    connect: (options, callback) => connector({ ...options, servername: serverName }, callback),
  });
}

/** Links the caller's signal and our timer into one signal for undici. */
function startDeadline(caller: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`Nomad call exceeded ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const onAbort = (): void => controller.abort(caller === undefined ? undefined : abortReason(caller));
  caller?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: (): boolean => timedOut,
    dispose(): void {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onAbort);
    },
  };
}

/** What a caller's abort rejects with: the signal's reason (an `AbortError` by default). */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason;
}

/** A function, so TypeScript does not keep an earlier `aborted === false` narrowing. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function requestHeaders(token: string | undefined, hasBody: boolean, gzip: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'Accept-Encoding': gzip ? 'gzip' : 'identity' };
  if (token !== undefined && token !== '') {
    if (!isSendableToken(token)) throw new TypeError('Nomad token contains characters not allowed in a header');
    headers['X-Nomad-Token'] = token;
  }
  if (hasBody) headers['Content-Type'] = 'application/json';
  return headers;
}

async function decompress(bytes: Buffer, encoding: string | undefined, label: NomadRequestLabel): Promise<string> {
  const name = (encoding ?? '').trim().toLowerCase();
  try {
    if (name === '' || name === 'identity') return bytes.toString('utf8');
    if (name === 'gzip' || name === 'x-gzip') return (await gunzipAsync(bytes)).toString('utf8');
    if (name === 'deflate') return (await inflateAsync(bytes)).toString('utf8');
  } catch (error) {
    throw new NomadDecodeError(
      {
        jsonPath: '$',
        expected: `a valid ${name} body`,
        received: errorCode(error) || 'a corrupt body',
        request: label,
      },
      { cause: error },
    );
  }
  throw new NomadDecodeError({
    jsonPath: '$',
    expected: 'an identity or gzip body',
    received: `Content-Encoding ${JSON.stringify(name)}`,
    request: label,
  });
}

function redact(text: string, token: string | undefined): string {
  return token === undefined || token === '' ? text : text.split(token).join('<redacted>');
}

function parseBody<T>(text: string, decode: (value: unknown) => T, label: NomadRequestLabel): T {
  if (text === '') {
    throw new NomadDecodeError({ jsonPath: '$', expected: 'a JSON body', received: 'an empty body', request: label });
  }
  let parsed: unknown;
  try {
    parsed = parseNomadJson(text);
  } catch (error) {
    const received = error instanceof Error ? error.message : 'unparseable text';
    throw new NomadDecodeError({ jsonPath: '$', expected: 'valid JSON', received, request: label }, { cause: error });
  }
  try {
    return decode(parsed);
  } catch (error) {
    throw error instanceof NomadDecodeError ? error.withRequest(label) : error;
  }
}

/** Creates a transport with its own keep-alive connection pool (unless `dispatcher` is given). */
export function createNomadTransport(options: NomadTransportOptions): NomadTransport {
  const { origin, prefix, secure } = parseAddress(options.address);
  if (options.tls !== undefined && !secure) throw new TypeError('Nomad tls options need an https:// address');
  if (options.tls !== undefined && options.dispatcher !== undefined) {
    throw new TypeError('Nomad tls options cannot be combined with a custom dispatcher');
  }
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  callDeadlineMs(defaultTimeoutMs, {}); // validates
  const now = options.now ?? (() => performance.now());
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher = options.dispatcher ?? buildAgent(options.tls);
  let closing: Promise<void> | undefined;

  async function exchange<T>(req: NomadHttpRequest<T>, deadlineMs: number): Promise<RawResponse> {
    const label = { method: req.method, path: req.path };
    const url = `${origin}${prefix}${req.path}${buildQuery(req)}`;
    const headers = requestHeaders(req.token, req.body !== undefined, options.gzip ?? true);
    const body = req.body === undefined ? undefined : encodeNomadJson(req.body);
    const caller = req.signal;
    if (caller !== undefined && isAborted(caller)) throw abortReason(caller);
    const deadline = startDeadline(caller, deadlineMs);
    try {
      const res = await request(url, {
        dispatcher,
        method: req.method,
        headers,
        body,
        signal: deadline.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, bytes };
    } catch (error) {
      if (caller !== undefined && isAborted(caller)) throw abortReason(caller);
      const code = errorCode(error);
      if (deadline.timedOut() || UNDICI_TIMEOUT_CODES.has(code)) {
        throw new NomadTimeoutError({ ...label, timeoutMs: deadlineMs });
      }
      if (PROGRAMMER_ERROR_CODES.has(code)) throw error;
      throw new NomadUnavailableError({ ...label, cause: error });
    } finally {
      deadline.dispose();
    }
  }

  /** `exchange`, reported to `onExchange` with how it ended. */
  async function observedExchange<T>(req: NomadHttpRequest<T>, deadlineMs: number): Promise<RawResponse> {
    const { onExchange } = options;
    if (onExchange === undefined) return exchange(req, deadlineMs);
    const started = now();
    const report = (status: NomadExchange['status']): void =>
      onExchange({
        method: req.method,
        route: req.route ?? 'other',
        status,
        durationMs: now() - started,
        blocking: req.index !== undefined && req.index > 0n,
      });
    let raw: RawResponse;
    try {
      raw = await exchange(req, deadlineMs);
    } catch (error) {
      report(req.signal !== undefined && isAborted(req.signal) ? 'aborted' : error instanceof NomadTimeoutError ? 'timeout' : 'error');
      throw error;
    }
    report(raw.status);
    return raw;
  }

  return {
    async send<T>(req: NomadHttpRequest<T>): Promise<NomadHttpResponse<T>> {
      const label = { method: req.method, path: req.path };
      const deadlineMs = callDeadlineMs(req.timeoutMs ?? defaultTimeoutMs, req);
      const raw = await observedExchange(req, deadlineMs);
      const text = await decompress(raw.bytes, firstHeader(raw.headers['content-encoding']), label);
      const meta = parseQueryMeta(raw.headers);
      if (raw.status !== 200) {
        throw new NomadHttpError({ ...label, status: raw.status, nomadMessage: redact(text, req.token), meta });
      }
      return { body: parseBody(text, req.decode, label), meta };
    },
    close(): Promise<void> {
      closing ??= ownsDispatcher ? dispatcher.close() : Promise.resolve();
      return closing;
    },
  };
}
