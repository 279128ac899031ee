import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST, type ExecutionArgs, type execute, type subscribe } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CallerInput, Context } from '../context.ts';
import { ErrorCode } from '../error-codes.ts';
import { isSendableToken, tokenFromHeaders, type HeaderSource } from '../nomad/token.ts';
import { trustedQuery, type TrustedDocuments } from './trusted-documents.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-log.ts';

/** The only WebSocket subprotocol served: graphql-ws's. The legacy `graphql-ws` one is refused. */
export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';

/** Bounds of the WebSocket transport (the defaults of {@link attachGraphqlWs}'s `limits`). */
export const WS_LIMITS = {
  /** A connection must send `connection_init` within this, or it is closed (4408). */
  connectionInitWaitMs: 5_000,
  /** Largest message a client may send; a larger one closes the socket (1009). */
  maxMessageBytes: 256 * 1024,
  /** Operations in flight on one connection. */
  maxOperationsPerConnection: 100,
  /** Ping interval; a client that misses a pong is dropped. */
  keepAliveMs: 12_000,
  /**
   * Bytes sent but not yet taken by a client: past this, the client is not keeping up with its
   * events, and the connection is closed (1013, try again later) rather than buffered without end.
   */
  maxUnsentBytes: 4 * 1024 * 1024,
} as const;

/** The bounds of the WebSocket transport, as numbers; see {@link WS_LIMITS} for each one's meaning and default. */
export type WsLimits = { readonly [K in keyof typeof WS_LIMITS]: number };

/** The close code for a client that cannot keep up: 1013 (try again later), which graphql-ws clients retry. */
export const CLOSE_TOO_SLOW = 1013;

/**
 * The close code of a replica that shuts down: 1012 (service restart), which graphql-ws clients
 * (and most WebSocket clients) retry, reaching another replica behind the load balancer.
 */
export const CLOSE_SERVICE_RESTART = 1012;

/**
 * The reasons an operation's signal aborts with, each made once: a default one (`abort()` with no
 * reason) is a new DOMException with its stack captured every time, measured at about 4% of the
 * gateway's CPU per exec keystroke (each `execInput` is an operation that ends).
 */
const OPERATION_ENDED = new DOMException('The GraphQL operation ended', 'AbortError');
const CONNECTION_CLOSED = new DOMException('The WebSocket connection closed', 'AbortError');

/** How long a client told to go (see `closeAll`) has to answer the close frame before it is cut off. */
const CLOSE_HANDSHAKE_GRACE_MS = 2_000;

/** What yoga's initial context carries for a WebSocket operation: the caller, already known. */
export interface WsInitialContext extends Record<string, unknown> {
  caller: CallerInput;
  /** The connection's request id (its upgrade request's sane `x-request-id`, or a new one), for the request log. */
  requestId: string;
}

/** Told when a WebSocket connection on a path opens and when it closes (metrics). */
export interface WsConnectionObserver {
  opened(path: string): void;
  closed(path: string): void;
}

/**
 * What each WebSocket path serves: the yoga instance whose schema, plugins and context it uses,
 * and bounds of its own where they differ from the transport's.
 */
export type YogaByPath = ReadonlyMap<
  string,
  { yoga: YogaServerInstance<Record<string, unknown>, Context>; limits?: Partial<WsLimits>; trustedDocuments?: TrustedDocuments }
>;

/** The `connection_init` payload read as headers: `X-Nomad-Token` or `Authorization`, any case. */
function payloadHeaders(payload: Record<string, unknown> | undefined): HeaderSource {
  return {
    get: (name) => {
      for (const [key, value] of Object.entries(payload ?? {})) {
        if (key.toLowerCase() === name && typeof value === 'string') return value;
      }
      return null;
    },
  };
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** The subprotocols a client offered in its upgrade request. */
function offeredProtocols(request: IncomingMessage): string[] {
  return (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/** Answers an upgrade we will not accept with a plain HTTP error, then closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

interface ConnectionState {
  caller: CallerInput;
  requestId: string;
  /** One controller per running operation: completing or closing aborts its upstream calls. */
  operations: Map<string, AbortController>;
  /** The running queries and mutations (not subscriptions): a shutdown closes the socket once they answered. */
  requests: Set<string>;
  /** Watches the bytes the client has not taken yet (see {@link watchUnsent}). */
  unsentWatch: NodeJS.Timeout;
}

/** How often a connection's unsent bytes are looked at. */
const UNSENT_CHECK_MS = 500;
/** How long a client closed for being too slow has to take the close frame before it is cut off. */
const TOO_SLOW_GRACE_MS = 5_000;

/**
 * Bytes of the write in progress on `tcp` that the kernel has not taken yet, or undefined where
 * Node does not say. `bufferedAmount` counts a message as unsent until its last byte is written,
 * so it stays flat for as long as a client takes to read one large message; libuv's write queue
 * goes down as the client reads. The handle's `writeQueueSize` is not public API, but Node reads it
 * for the same reason (net.Socket's `_onTimeout` holds a socket timeout off while it moves); where
 * it is missing, the watch falls back to `bufferedAmount` alone.
 */
function unwrittenBytes(tcp: Socket): number | undefined {
  const handle: unknown = Reflect.get(tcp, '_handle');
  if (typeof handle !== 'object' || handle === null) return undefined;
  const size: unknown = Reflect.get(handle, 'writeQueueSize');
  return typeof size === 'number' ? size : undefined;
}

/**
 * Closes a client that does not take what it is sent. graphql-ws awaits each send before it takes
 * an operation's next event, so what piles up is one message per operation in the socket's
 * buffer, plus the events waiting in the subscriber queues (bounded on their own): looking at
 * `bufferedAmount` on a timer catches it whatever the number of operations (and `onNext` catches
 * an event that finds the bound passed by other operations' messages). Over the bound is not
 * enough on the timer: a large message (the first event of a subscription over 100 000 allocations is tens of
 * megabytes) is over it for as long as a healthy client takes to read it. A client is too slow
 * when the backlog was over the bound at the last look and is still, and the client took nothing
 * in between: neither the backlog nor the write in progress (see {@link unwrittenBytes}) went down.
 * The close frame queues behind the unsent data, so a client that reads nothing at all is cut off
 * after a grace period.
 */
function watchUnsent(options: { socket: WebSocket; tcp: Socket; maxUnsentBytes: number; logger: Logger }): NodeJS.Timeout {
  const { socket, tcp, maxUnsentBytes, logger } = options;
  let previous = 0;
  let previousUnwritten: number | undefined;
  const timer = setInterval(() => {
    const unsent = socket.bufferedAmount;
    const unwritten = unwrittenBytes(tcp);
    const writing = unwritten !== undefined && previousUnwritten !== undefined && unwritten < previousUnwritten;
    // Over the bound at two looks in a row, and nothing taken in between.
    const stalled = unsent > maxUnsentBytes && previous > maxUnsentBytes && unsent >= previous && !writing;
    previous = unsent;
    previousUnwritten = unwritten;
    if (!stalled) return;
    clearInterval(timer);
    logger.info(`graphql-ws: closing a client that does not keep up (${unsent} bytes unsent)`);
    socket.close(CLOSE_TOO_SLOW, `Client too slow: more than ${maxUnsentBytes} bytes of events unsent`);
    setTimeout(() => socket.terminate(), TOO_SLOW_GRACE_MS).unref();
  }, UNSENT_CHECK_MS);
  timer.unref();
  return timer;
}

/**
 * GraphQL over WebSocket (the `graphql-transport-ws` protocol) on the same paths as HTTP. The
 * caller's token comes from the `connection_init` payload (`X-Nomad-Token`, or `Authorization:
 * Bearer`), never from the URL. Each operation runs through the path's yoga instance (its parse,
 * validation limits, masking and context), with an AbortSignal that ends when the operation
 * completes or the socket closes. Returns the upgrade handler for the HTTP server and a `stop()`.
 */
export function attachGraphqlWs(options: {
  yogaByPath: YogaByPath;
  logger: Logger;
  /** Overrides of {@link WS_LIMITS} (tests use small ones); each one left out keeps its default. */
  limits?: Partial<WsLimits>;
  /** Told about every connection accepted and closed (metrics); left out, nobody is. */
  connections?: WsConnectionObserver;
}): {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Shutdown: from now on upgrades are refused with 503 (connect again: another replica answers). */
  drain(): void;
  /**
   * Shutdown: closes every socket with `code` as soon as its queries and mutations have answered
   * (their `complete` included: a client that misses it would send the operation again, to another
   * replica, and a mutation would run twice); its subscriptions just end with the socket. A client
   * that does not answer the close frame within a grace period is cut off. Resolves once every
   * socket is closed.
   */
  closeAll(code: number, reason: string): Promise<void>;
  stop(): Promise<void>;
} {
  const { yogaByPath, logger } = options;
  const servers = new Map<string, WebSocketServer>();
  const disposers: (() => Promise<void> | void)[] = [];
  const states = new WeakMap<WebSocket, ConnectionState>();
  let refusing = false;
  /** Set by `closeAll`: each socket closes with this once its requests have answered. */
  let closing: { code: number; reason: string } | undefined;

  const closeNow = (socket: WebSocket, { code, reason }: { code: number; reason: string }): void => {
    if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CONNECTING) return;
    socket.close(code, reason);
    const cutOff = setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_GRACE_MS);
    cutOff.unref();
    socket.once('close', () => clearTimeout(cutOff));
  };

  for (const [path, { yoga, limits: pathLimits, trustedDocuments }] of yogaByPath) {
    const limits: WsLimits = { ...WS_LIMITS, ...options.limits, ...pathLimits };
    const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
    servers.set(path, wss);
    const server = useServer<Record<string, unknown> | undefined, { state: ConnectionState }>(
      {
        connectionInitWaitTimeout: limits.connectionInitWaitMs,
        onConnect: (ctx) => {
          const token = tokenFromHeaders(payloadHeaders(ctx.connectionParams));
          if (token !== undefined && !isSendableToken(token)) return false; // 4403 Forbidden
          const requestId = requestIdFrom(firstHeader(ctx.extra.request.headers[REQUEST_ID_HEADER]));
          states.set(ctx.extra.socket, { caller: { token }, requestId, operations: new Map(), requests: new Set(), unsentWatch: watchUnsent({ socket: ctx.extra.socket, tcp: ctx.extra.request.socket, maxUnsentBytes: limits.maxUnsentBytes, logger }) });
          return true;
        },
        onSubscribe: async (ctx, id, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
          const state = states.get(ctx.extra.socket);
          if (state === undefined) return [new GraphQLError('Not connected', { extensions: { code: ErrorCode.FORBIDDEN } })];
          if (state.operations.size >= limits.maxOperationsPerConnection) {
            return [
              new GraphQLError(`At most ${limits.maxOperationsPerConnection} operations may run at once on one connection`, {
                extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, maximum: limits.maxOperationsPerConnection },
              }),
            ];
          }
          const controller = new AbortController();
          state.operations.set(id, controller);
          const initial: WsInitialContext = { caller: { token: state.caller.token, signal: controller.signal }, requestId: state.requestId, params: payload };
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(initial);
          let document;
          try {
            const query = trustedDocuments === undefined ? payload.query : trustedQuery(trustedDocuments, payload);
            document = parse(query);
          } catch (error) {
            state.operations.delete(id);
            return [error instanceof GraphQLError ? error : new GraphQLError('Syntax error', { extensions: { code: ErrorCode.BAD_USER_INPUT } })];
          }
          const errors = validate(schema, document);
          if (errors.length > 0) {
            state.operations.delete(id);
            return errors;
          }
          if (getOperationAST(document, payload.operationName)?.operation !== 'subscription') state.requests.add(id);
          const contextValue = await contextFactory();
          return {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue,
            rootValue: { execute, subscribe },
          };
        },
        onNext: (ctx) => {
          // An event about to go out finds the bound passed by other operations' messages still unsent.
          const { socket } = ctx.extra;
          if (socket.bufferedAmount > limits.maxUnsentBytes) {
            socket.close(CLOSE_TOO_SLOW, `Client too slow: more than ${limits.maxUnsentBytes} bytes of events unsent`);
          }
        },
        execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
        subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
        onComplete: (ctx, id) => {
          const state = states.get(ctx.extra.socket);
          state?.operations.get(id)?.abort(OPERATION_ENDED);
          state?.operations.delete(id);
          if (state?.requests.delete(id) === true && state.requests.size === 0 && closing !== undefined) {
            // graphql-ws sends `complete` right after this hook returns: close after it.
            const { socket } = ctx.extra;
            const how = closing;
            setImmediate(() => closeNow(socket, how));
          }
        },
        onClose: (ctx) => {
          const state = states.get(ctx.extra.socket);
          clearInterval(state?.unsentWatch);
          for (const controller of state?.operations.values() ?? []) controller.abort(CONNECTION_CLOSED);
          states.delete(ctx.extra.socket);
        },
      },
      wss,
      limits.keepAliveMs,
    );
    disposers.push(() => server.dispose());
  }

  return {
    handleUpgrade: (request, socket, head) => {
      if (refusing) {
        refuseUpgrade(socket, 503, 'Service Unavailable', 'This gateway replica is shutting down; connect again (another replica will answer)');
        return;
      }
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      const wss = servers.get(path);
      if (wss === undefined) {
        refuseUpgrade(socket, 404, 'Not Found', `No WebSocket endpoint at ${path}; use ${[...servers.keys()].join(' or ')}`);
        return;
      }
      if ((request.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        refuseUpgrade(socket, 400, 'Bad Request', `Only WebSocket upgrades are served here (asked for "${request.headers.upgrade ?? ''}")`);
        return;
      }
      if (!offeredProtocols(request).includes(GRAPHQL_TRANSPORT_WS)) {
        refuseUpgrade(
          socket,
          400,
          'Bad Request',
          `WebSocket subprotocol "${GRAPHQL_TRANSPORT_WS}" required (graphql-ws); the legacy "graphql-ws" subprotocol of subscriptions-transport-ws is not served`,
        );
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        const { connections } = options;
        if (connections !== undefined) {
          connections.opened(path);
          ws.once('close', () => connections.closed(path));
        }
        wss.emit('connection', ws, request);
      });
    },
    drain: () => {
      refusing = true;
    },
    closeAll: async (code, reason) => {
      refusing = true;
      closing = { code, reason };
      // One turn of the event loop first: an operation whose source just ended (an exec session's
      // last event) sends its `complete` in the microtasks that follow; a client that got the
      // close before it would send the operation again once reconnected.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const sockets = [...servers.values()].flatMap((wss) => [...wss.clients]);
      const closed = sockets.map((socket) => (socket.readyState === socket.CLOSED ? undefined : new Promise<void>((resolve) => socket.once('close', () => resolve()))));
      for (const socket of sockets) {
        if ((states.get(socket)?.requests.size ?? 0) === 0) closeNow(socket, { code, reason });
      }
      await Promise.all(closed);
    },
    stop: async () => {
      for (const wss of servers.values()) {
        for (const client of wss.clients) client.close(1001, 'Server shutting down');
      }
      await Promise.all(disposers.map((dispose) => dispose()));
      logger.debug('graphql-ws stopped');
    },
  };
}

/**
 * What `onSubscribe` leaves in `rootValue`: the path's enveloped execute and subscribe (yoga's
 * plugins, masking included). The one place where graphql-ws and yoga meet, hence the cast.
 */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): ReturnType<typeof execute>;
  subscribe(args: ExecutionArgs): ReturnType<typeof subscribe>;
}
