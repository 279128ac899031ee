/**
 * `ExecTransport` over Nomad's exec WebSocket, `/v1/client/allocation/:id/exec` (Nomad API
 * notes §9): opens the socket, authenticates with the handshake frame, heartbeats, turns Nomad's
 * frames into `ExecOutputFrame`s and classifies how the session ended.
 *
 * - The token travels only in the handshake frame (`ws_handshake=true`), never in the URL or a
 *   header: every Nomad version accepts that, and v2.0.3+ refuses a header that differs from it.
 * - Output is pulled: once `maxBufferedFrames` frames wait for the consumer, the socket is paused
 *   (`ws.pause()`), so TCP backpressure reaches Nomad and, through it, the command.
 * - A normal exit is the exit frame followed by a dropped TCP connection without a close frame;
 *   that is `exited`, not `lost`. Errors arrive as close frames 1008/1011 with Nomad's text.
 * - `ended` settles as soon as the end is known (the exit frame, a close, `close()`); output
 *   received before it stays in the buffer and `output` still yields it, except after `close()`,
 *   which drops it. Leaving the `output` loop early (`break`, i.e. the iterator's `return()`)
 *   closes the connection, since nobody would read the rest.
 * - `open` rejects with `NomadHttpError` (the upgrade was answered with an HTTP status),
 *   `NomadTimeoutError` (no upgrade within `openTimeoutMs`), `NomadUnavailableError` (network,
 *   TLS), or the request signal's reason.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { WebSocket as ExecSocket, type ClientOptions, type RawData } from 'ws';
import { DEFAULT_TIMEOUT_MS, parseAddress, parseQueryMeta, type NomadTlsOptions } from '../nomad/http.ts';
import { NomadHttpError, NomadTimeoutError, NomadUnavailableError, type NomadRequestLabel } from '../nomad/errors.ts';
import * as frames from './frames.ts';
import type { ExecConnection, ExecEnd, ExecOutputFrame, ExecRequest, ExecTransport } from './transport.ts';

/** How to reach Nomad's exec endpoint. */
export interface NomadExecTransportOptions {
  /** Base URL of a Nomad agent, as for `createNomadClient` (`http(s)://host:port[/prefix]`). */
  address: string;
  /** TLS settings for an `https://` address; the same ones the HTTP client takes. */
  tls?: NomadTlsOptions;
  /** Default `region`; a request's own `region` wins. Absent: the agent's region. */
  region?: string;
  /** Interval of the `{}` heartbeat frames, as Nomad's UI and Go client send. @default 10000 */
  heartbeatMs?: number;
  /**
   * Output frames kept for a consumer that is not pulling before the socket is paused; reading
   * resumes once half of them are taken. Frames already read from the socket when it pauses are
   * still kept, so this is a soft bound. @default 64
   */
  maxBufferedFrames?: number;
  /** Deadline for the connection, TLS and the WebSocket upgrade together. @default 10000 */
  openTimeoutMs?: number;
}

/** A `write`, `closeStdin` or `resize` after the connection ended; `end` says how it ended. */
export class ExecConnectionEndedError extends Error {
  override readonly name = 'ExecConnectionEndedError';
  constructor(readonly end: ExecEnd) {
    super(`the exec connection is over (${end.kind})`);
  }
}

export const DEFAULT_HEARTBEAT_MS = 10_000;
export const DEFAULT_MAX_BUFFERED_FRAMES = 64;
/**
 * Largest frame accepted from Nomad. Its executors send at most 1024 raw bytes per frame (about
 * 1.4 KB of JSON), and the buffer bound counts frames, so a frame this big already means trouble.
 */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Close codes Nomad refuses a session with (`toWsCode`): policy violation and internal error. */
const REFUSAL_CODES = new Set([1008, 1011]);
/** The close code sent when Nomad's frame cannot be decoded. */
const PROTOCOL_ERROR = 1002;
/** Longest part of a refused upgrade's body kept in the error. */
const MAX_BODY_CHARS = 512;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** The WebSocket base (`ws(s)://host:port/prefix`) of an `http(s)://` Nomad address. */
function execBase(address: string, tls: NomadTlsOptions | undefined): string {
  const { origin, prefix, secure } = parseAddress(address);
  if (tls !== undefined && !secure) throw new TypeError('Nomad tls options need an https:// address');
  return `${secure ? 'wss:' : 'ws:'}${origin.slice(origin.indexOf('//'))}${prefix}`;
}

/** The TLS options `ws` hands to `tls.connect`, mirroring the HTTP client's undici connector. */
function tlsClientOptions(tls: NomadTlsOptions): ClientOptions & Pick<ConnectionOptions, 'servername'> {
  return {
    ca: tls.ca === undefined || typeof tls.ca === 'string' || Buffer.isBuffer(tls.ca) ? tls.ca : [...tls.ca],
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.insecureSkipVerify !== true,
    // Checked against the certificate instead of the address's host, and sent as SNI even to an IP.
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
  };
}

/** The exec URL the UI opens: `?task=…&tty=…&ws_handshake=true[&region=…]&command=<JSON>`. */
function execUrl(base: string, path: string, request: ExecRequest, region: string | undefined): string {
  const params = new URLSearchParams({ task: request.task, tty: String(request.tty), ws_handshake: 'true' });
  if (region !== undefined && region !== '') params.set('region', region);
  params.set('command', JSON.stringify(request.command));
  return `${base}${path}?${params.toString()}`;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** What a refused upgrade answered (a proxy, a cross-origin 403, a plain 500). */
function readRefusal(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (body.length < MAX_BODY_CHARS) body += chunk;
    });
    response.once('end', () => resolve(body.slice(0, MAX_BODY_CHARS)));
    response.once('error', () => resolve(body.slice(0, MAX_BODY_CHARS)));
    response.once('close', () => resolve(body.slice(0, MAX_BODY_CHARS)));
  });
}

/**
 * The pull side of the output: a queue the socket pushes into and the consumer takes from,
 * pausing the socket while `limit` frames wait and resuming it once half of them are taken.
 */
class OutputBuffer implements AsyncIterableIterator<ExecOutputFrame> {
  readonly #frames: ExecOutputFrame[] = [];
  #waiter: ((result: IteratorResult<ExecOutputFrame>) => void) | undefined;
  #finished = false;
  #paused = false;
  #iterated = false;

  constructor(
    private readonly limit: number,
    private readonly flow: { pause(): void; resume(): void; stop(): void },
  ) {}

  push(frame: ExecOutputFrame): void {
    if (this.#finished) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ done: false, value: frame });
      return;
    }
    this.#frames.push(frame);
    if (!this.#paused && this.#frames.length >= this.limit) {
      this.#paused = true;
      this.flow.pause();
    }
  }

  /** No more frames will come; the buffered ones are still handed out (or dropped with `discard`). */
  finish(discard: boolean): void {
    this.#finished = true;
    if (discard) this.#frames.length = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<ExecOutputFrame>> {
    const frame = this.#frames.shift();
    if (frame !== undefined) {
      if (this.#paused && this.#frames.length <= this.limit / 2) {
        this.#paused = false;
        this.flow.resume();
      }
      return Promise.resolve({ done: false, value: frame });
    }
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter !== undefined) return Promise.reject(new Error('exec output: next() called while a previous next() is pending'));
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** The consumer stopped iterating (`break`): nobody will read the rest, so the connection closes. */
  return(): Promise<IteratorResult<ExecOutputFrame>> {
    this.flow.stop();
    this.finish(true);
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    if (this.#iterated) throw new Error('exec output can be iterated only once');
    this.#iterated = true;
    return this;
  }
}

interface ConnectionSettings {
  label: NomadRequestLabel;
  heartbeatMs: number;
  maxBufferedFrames: number;
  openTimeoutMs: number;
}

/** One exec WebSocket, from the upgrade to the end. */
class NomadExecConnection implements ExecConnection {
  readonly output: OutputBuffer;
  readonly ended: Promise<ExecEnd>;
  /** Settles when the upgrade succeeded (then the handshake is already queued) or failed. */
  readonly opened: Promise<void>;
  readonly #socket: ExecSocket;
  readonly #request: ExecRequest;
  readonly #settings: ConnectionSettings;
  #end: ExecEnd | undefined;
  #settleEnded: (end: ExecEnd) => void = () => undefined;
  #settleOpened: ((error?: unknown) => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #openTimer: NodeJS.Timeout | undefined;
  /** The last socket error, to explain a connection that drops. */
  #lastError: Error | undefined;
  readonly #onAbort = (): void => this.#abort();

  constructor(socket: ExecSocket, request: ExecRequest, settings: ConnectionSettings) {
    this.#socket = socket;
    this.#request = request;
    this.#settings = settings;
    this.ended = new Promise((resolve) => (this.#settleEnded = resolve));
    this.opened = new Promise<void>((resolve, reject) => {
      this.#settleOpened = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.output = new OutputBuffer(settings.maxBufferedFrames, {
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      stop: () => this.close(),
    });
    socket.on('open', () => this.#onOpen());
    socket.on('message', (data) => this.#onMessage(data));
    socket.on('error', (error) => this.#onError(error));
    socket.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    socket.on('unexpected-response', (req, res) => void this.#onRefusedUpgrade(req, res));
    const timeout = new NomadTimeoutError({ ...settings.label, timeoutMs: settings.openTimeoutMs });
    this.#openTimer = setTimeout(() => this.#failOpen(timeout), settings.openTimeoutMs);
    request.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  write(data: Buffer): Promise<void> {
    return this.#send(frames.encodeStdin(data));
  }

  closeStdin(): Promise<void> {
    return this.#send(frames.encodeStdinClose());
  }

  resize(size: { height: number; width: number }): Promise<void> {
    return this.#send(frames.encodeResize(size));
  }

  close(): void {
    this.#finish({ kind: 'closed' }, true);
    // 1000 is benign to Nomad (`isClosedError`); it ends the command.
    this.#closeSocket(1000);
  }

  /** Hands one frame to the socket; resolves from `ws`'s send callback. */
  #send(frame: string): Promise<void> {
    if (this.#end !== undefined) return Promise.reject(new ExecConnectionEndedError(this.#end));
    return new Promise((resolve, reject) => {
      this.#socket.send(frame, (error) => {
        if (error === undefined || error === null) resolve();
        else reject(this.#end === undefined ? error : new ExecConnectionEndedError(this.#end));
      });
    });
  }

  #onOpen(): void {
    clearTimeout(this.#openTimer);
    // The handshake must be the first frame Nomad reads; `ws` keeps sends in order.
    this.#socket.send(frames.encodeHandshake(this.#request.token));
    if (this.#request.tty && this.#request.size !== undefined) this.#socket.send(frames.encodeResize(this.#request.size));
    this.#heartbeat = setInterval(() => this.#socket.send(frames.encodeHeartbeat(), () => undefined), this.#settings.heartbeatMs);
    const settle = this.#settleOpened;
    this.#settleOpened = undefined;
    settle?.();
  }

  #onMessage(data: RawData): void {
    if (this.#end !== undefined) return;
    let frame: frames.ServerFrame;
    try {
      frame = frames.decodeServerFrame(rawText(data));
    } catch (error) {
      this.#finish({ kind: 'lost', reason: error instanceof Error ? error.message : String(error) }, false);
      this.#closeSocket(PROTOCOL_ERROR);
      return;
    }
    if (frame.kind === 'heartbeat') return;
    if (frame.kind !== 'exited') return this.output.push(frame);
    this.#finish(frame, false);
    // Nomad drops the connection after the exit frame without a close frame. Like its Go client
    // (which returns and closes the connection on the exit frame), don't wait for that.
    this.#socket.terminate();
  }

  #onError(error: Error): void {
    this.#lastError = error;
    this.#failOpen(new NomadUnavailableError({ ...this.#settings.label, cause: error }));
  }

  #onClose(code: number, reason: string): void {
    this.#failOpen(new NomadUnavailableError({ ...this.#settings.label, cause: this.#lastError ?? new Error(`closed with ${code}`) }));
    if (REFUSAL_CODES.has(code)) return this.#finish({ kind: 'refused', code, reason }, false);
    const detail = this.#lastError === undefined ? '' : `: ${this.#lastError.message}`;
    // Nomad also drops the connection without a close frame when its error text is over 123 bytes (§9.5).
    const how =
      code === 1006
        ? 'dropped the exec connection without a close frame'
        : `closed the exec connection with code ${code}${reason === '' ? '' : ` "${reason}"`}`;
    this.#finish({ kind: 'lost', reason: `Nomad ${how} before the command exited${detail}` }, false);
  }

  async #onRefusedUpgrade(_request: ClientRequest, response: IncomingMessage): Promise<void> {
    const body = await readRefusal(response);
    const status = response.statusCode ?? 0;
    this.#failOpen(new NomadHttpError({ ...this.#settings.label, status, nomadMessage: body, meta: parseQueryMeta(response.headers) }));
  }

  /** The caller's signal fired: before the upgrade, `open` rejects with its reason; after, the connection closes. */
  #abort(): void {
    if (this.#settleOpened === undefined) return this.close();
    this.#failOpen(this.#request.signal?.reason ?? new DOMException('This operation was aborted', 'AbortError'));
  }

  /** Rejects `open` (once, and only while connecting) and tears everything down. */
  #failOpen(error: unknown): void {
    const settle = this.#settleOpened;
    if (settle === undefined) return;
    this.#settleOpened = undefined;
    settle(error);
    this.#finish({ kind: 'lost', reason: error instanceof Error ? error.message : String(error) }, true);
    this.#socket.terminate();
  }

  /** Records how the connection ended (first call wins) and releases every timer and listener. */
  #finish(end: ExecEnd, discardOutput: boolean): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    clearTimeout(this.#openTimer);
    clearInterval(this.#heartbeat);
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.output.finish(discardOutput);
    this.#settleEnded(end);
  }

  #closeSocket(code: number): void {
    // A paused socket would never read Nomad's side of the close handshake.
    this.#socket.resume();
    if (this.#socket.readyState === ExecSocket.OPEN) this.#socket.close(code);
  }
}

/** Creates the transport. It holds no connections itself; each `open` makes one WebSocket. */
export function createNomadExecTransport(options: NomadExecTransportOptions): ExecTransport {
  const base = execBase(options.address, options.tls);
  const tls = options.tls === undefined ? {} : tlsClientOptions(options.tls);
  const settings = {
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS),
    maxBufferedFrames: positiveInteger('maxBufferedFrames', options.maxBufferedFrames ?? DEFAULT_MAX_BUFFERED_FRAMES),
    openTimeoutMs: positiveInteger('openTimeoutMs', options.openTimeoutMs ?? DEFAULT_TIMEOUT_MS),
  };

  return {
    open: async (request) => {
      if (request.signal?.aborted === true) throw request.signal.reason;
      const path = `/v1/client/allocation/${encodeURIComponent(request.allocationId)}/exec`;
      const socketOptions: ClientOptions & Pick<ConnectionOptions, 'servername'> = {
        ...tls,
        // Nomad's upgrader negotiates no compression; don't offer it.
        perMessageDeflate: false,
        followRedirects: false,
        maxPayload: MAX_FRAME_BYTES,
      };
      const socket = new ExecSocket(execUrl(base, path, request, request.region ?? options.region), socketOptions);
      const connection = new NomadExecConnection(socket, request, { ...settings, label: { method: 'GET', path } });
      await connection.opened;
      return connection;
    },
  };
}
