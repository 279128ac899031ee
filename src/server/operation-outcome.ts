import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { OperationType } from '../observability/metrics.ts';

/** The code counted and logged for an unexpected error, which yoga masks as `Unexpected error.`. */
export const INTERNAL = 'INTERNAL';
/**
 * The code counted and logged for an error that reaches the client without one and unmasked:
 * graphql-js's own execution errors, such as a variable of the wrong type.
 */
export const UNCODED = 'UNCODED';

/** How one GraphQL operation went, once it has ended. Carries no token, variables or query text. */
export interface OperationOutcome {
  /** `http`: POST or GET, its answer a JSON body or an SSE stream; `ws`: graphql-ws. */
  transport: 'http' | 'ws';
  /** See {@link OperationOutcomeOptions.requestIdOf}; over WebSocket, the graphql-ws glue's `requestId`. */
  requestId: string | undefined;
  /** The name of the operation that ran, as the document spells it (never the document itself). */
  operationName: string | undefined;
  /** `unknown` when the request failed before its document was known (bad body, syntax error...). */
  operationType: OperationType;
  /** From the request (or, over WebSocket, the `subscribe` message) to the last result; a subscription's lifetime. */
  durationMs: number;
  /**
   * The `extensions.code` of every error in every result, in order; unexpected (masked) errors
   * are `INTERNAL`, errors without a code `UNCODED`.
   */
  errorCodes: string[];
}

/** Headers to read, e.g. a caller's W3C trace context. */
export interface HeaderReader {
  get(name: string): string | null | undefined;
}

/** An operation as it starts, before its document is read. */
export interface OperationStart {
  transport: 'http' | 'ws';
  requestId: string | undefined;
  /** The HTTP request's headers (trace context); none over WebSocket. */
  headers: HeaderReader | undefined;
  /**
   * What identifies the operation in yoga's `instrumentation` payloads: for yoga's HTTP pipeline
   * the request (`operation`'s `request`), otherwise (graphql-ws, the fast path) the envelop
   * context (`execute`'s and `subscribe`'s `context`).
   */
  key: object;
  /**
   * How many milliseconds ago the operation started, when that was not just now: an HTTP request
   * refused before its parameters were read is only known for an operation when its answer is
   * made. Undefined otherwise.
   */
  startedMsAgo: number | undefined;
}

export interface OperationOutcomeOptions {
  /** Called once per operation, when it ends. Must not throw. */
  onOutcome?: (outcome: OperationOutcome) => void;
  /**
   * Called once per operation, when it is known to be one: over yoga's HTTP pipeline once the
   * request's parameters are read (or, when reading them failed, as the refusal is answered),
   * never for the requests answered before that (health, readiness, GraphiQL, CORS preflights);
   * over graphql-ws and the fast path at parse. The function it returns, if any, is called with
   * the operation's outcome when it ends (after `onOutcome`). Must not throw.
   */
  onStart?: (start: OperationStart) => ((outcome: OperationOutcome) => void) | undefined;
  /** The id of an HTTP request (its `x-request-id`), when another plugin gave it one. */
  requestIdOf?: (request: Request) => string | undefined;
  /** Milliseconds from an arbitrary origin. @default performance.now */
  now?: () => number;
}

interface Tracked {
  transport: 'http' | 'ws';
  /** Run by yoga's HTTP pipeline, which ends it at result processing; otherwise by envelop alone. */
  viaYoga: boolean;
  requestId: string | undefined;
  startedAt: number;
  operationName: string | undefined;
  operationType: OperationType;
  errorCodes: string[];
  ended: boolean;
  /** What `onStart` is called with, until it is (see `begin`). */
  pending: OperationStart | undefined;
  onEnd: ((outcome: OperationOutcome) => void) | undefined;
}

/** A GraphQL name (what an operation name can be), so a client's free text is never taken for one. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,127}$/;

/**
 * An error's code as the client sees it. yoga masks an error unless it is a GraphQLError whose
 * cause, if any, is a GraphQLError too; plugins that run before the masking (over WebSocket)
 * still see the original, so the same rule decides here. `fallback` is for an uncoded error
 * yoga does not mask: it says at which stage the operation failed.
 */
export function errorCode(error: unknown, fallback: string = UNCODED): string {
  if (!(error instanceof GraphQLError)) return INTERNAL;
  const cause = error.originalError;
  if (cause !== undefined && cause !== null && !(cause instanceof GraphQLError)) return INTERNAL;
  if (error.extensions['unexpected'] === true) return INTERNAL;
  const code = error.extensions['code'];
  if (typeof code !== 'string' || code === '') return fallback;
  return code === 'INTERNAL_SERVER_ERROR' ? INTERNAL : code;
}

function resultCodes(result: unknown): string[] {
  if (Array.isArray(result)) return result.flatMap(resultCodes);
  if (typeof result !== 'object' || result === null || !('errors' in result) || !Array.isArray(result.errors)) return [];
  return result.errors.map((error: unknown) => errorCode(error));
}

/** A field of an envelop context, which yoga types without an index signature. */
function field(context: object, name: string): unknown {
  const value: unknown = Reflect.get(context, name);
  return value;
}

function paramsOperationName(context: object): string | undefined {
  const params = field(context, 'params');
  if (typeof params !== 'object' || params === null || !('operationName' in params)) return undefined;
  const name = params.operationName;
  return typeof name === 'string' && NAME.test(name) ? name : undefined;
}

/** The HTTP request an envelop context was built for; none over WebSocket. */
function requestOf(context: object): object | undefined {
  const request = field(context, 'request');
  return typeof request === 'object' && request !== null ? request : undefined;
}

function isHeaderReader(value: unknown): value is HeaderReader {
  return typeof value === 'object' && value !== null && 'get' in value && typeof value.get === 'function';
}

/** The caller went away: the end of an operation, not an error of it. */
function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * Follows every GraphQL operation of one yoga instance to its end and reports how it went: through
 * yoga's HTTP pipeline from the request to the processed result (a streamed result when its stream
 * ends); over graphql-ws and the HTTP fast path (which run operations through the same envelop,
 * without yoga's request pipeline; the fast path's context says `transport: 'http'` and carries
 * its `headers`) from parse to the end of execution. Parse and validation failures, persisted-query misses and
 * bad request bodies are operations too, of type `unknown` when no document was read.
 */
export function useOperationOutcomes(options: OperationOutcomeOptions): Plugin {
  const { onOutcome, onStart, requestIdOf } = options;
  const now = options.now ?? (() => performance.now());
  // Keyed by the HTTP request, or over WebSocket by the operation's context object (envelop
  // extends that same object from parse to execution).
  const tracked = new WeakMap<object, Tracked>();

  const end = (op: Tracked): void => {
    if (op.ended) return;
    op.ended = true;
    const outcome: OperationOutcome = {
      transport: op.transport,
      requestId: op.requestId,
      operationName: op.operationName,
      operationType: op.operationType,
      durationMs: now() - op.startedAt,
      errorCodes: op.errorCodes,
    };
    onOutcome?.(outcome);
    op.onEnd?.(outcome);
  };

  const track = (transport: 'http' | 'ws', requestId: string | undefined, key: object, headers: HeaderReader | undefined, viaYoga: boolean): Tracked => ({
    transport,
    viaYoga,
    requestId,
    startedAt: now(),
    operationName: undefined,
    operationType: 'unknown',
    errorCodes: [],
    ended: false,
    pending: onStart === undefined ? undefined : { transport, requestId, headers, key, startedMsAgo: undefined },
    onEnd: undefined,
  });

  /**
   * Reports the start of an operation (`onStart`), once. `late`: the operation has been running
   * for a while already, so its start time goes with it.
   */
  const begin = (op: Tracked, late = false): void => {
    const pending = op.pending;
    if (pending === undefined || onStart === undefined) return;
    op.pending = undefined;
    op.onEnd = onStart(late ? { ...pending, startedMsAgo: now() - op.startedAt } : pending);
  };

  /** The operation of an envelop context, started here when it runs without yoga's HTTP pipeline. */
  const trackedOf = (context: object): Tracked | undefined => {
    const request = requestOf(context);
    if (request !== undefined) return tracked.get(request);
    let op = tracked.get(context);
    if (op === undefined) {
      const requestId = field(context, 'requestId');
      // graphql-ws, or the HTTP fast path, which says so (`transport`) and hands over its headers.
      const http = field(context, 'transport') === 'http';
      const headers = field(context, 'headers');
      op = track(http ? 'http' : 'ws', typeof requestId === 'string' ? requestId : undefined, context, http && isHeaderReader(headers) ? headers : undefined, false);
      tracked.set(context, op);
      begin(op);
    }
    return op;
  };

  /** Without yoga's HTTP pipeline no result processing follows: the end of a result or stream is the end. */
  const onResult = (op: Tracked, result: unknown) => {
    if (op.viaYoga) return undefined;
    if (!isAsyncIterable(result)) {
      op.errorCodes.push(...resultCodes(result));
      end(op);
      return undefined;
    }
    return {
      onNext: ({ result: next }: { result: unknown }) => void op.errorCodes.push(...resultCodes(next)),
      onEnd: () => end(op),
    };
  };

  return {
    onRequest: ({ request }) => {
      tracked.set(request, track('http', requestIdOf?.(request), request, request.headers, true));
    },
    // A request that yoga goes on to parse, whose parameters were read: an operation. Started
    // here, before yoga's `operation` instrumentation wraps what it runs, so that the span
    // `onStart` makes (`operation-traces.ts`) is active throughout.
    onRequestParse: ({ request }) => ({
      onRequestParseDone: () => {
        const op = tracked.get(request);
        if (op !== undefined) begin(op);
      },
    }),
    onParams: ({ request, params }) => {
      const op = tracked.get(request);
      const name = params.operationName;
      if (op !== undefined && typeof name === 'string' && NAME.test(name)) op.operationName = name;
    },
    onParse: ({ context }) => {
      const op = trackedOf(context);
      return ({ result }) => {
        if (op === undefined) return;
        if (result instanceof Error) {
          if (!op.viaYoga) {
            op.errorCodes.push(errorCode(result, 'GRAPHQL_PARSE_FAILED'));
            end(op);
          }
          return;
        }
        if (result === null) return;
        const operation = getOperationAST(result as DocumentNode, paramsOperationName(context));
        if (operation === null || operation === undefined) return;
        op.operationType = operation.operation;
        op.operationName = operation.name?.value;
      };
    },
    onValidate: ({ context }) => {
      const op = trackedOf(context);
      return ({ valid, result }) => {
        if (op === undefined || valid || op.viaYoga) return;
        op.errorCodes.push(...result.map((error) => errorCode(error, 'GRAPHQL_VALIDATION_FAILED')));
        end(op);
      };
    },
    onExecute: ({ args }) => {
      const op = trackedOf(args.contextValue);
      return { onExecuteDone: ({ result }) => (op === undefined ? undefined : onResult(op, result)) };
    },
    onSubscribe: ({ args }) => {
      const op = trackedOf(args.contextValue);
      if (op === undefined || op.viaYoga) return undefined;
      return {
        onSubscribeResult: ({ result }) => onResult(op, result),
        onSubscribeError: ({ error }) => {
          if (!isAbort(error)) op.errorCodes.push(errorCode(error));
          end(op);
        },
      };
    },
    onResultProcess: ({ request, result, setResult }) => {
      const op = tracked.get(request);
      if (op === undefined || op.ended) return;
      // Refused before its parameters were read (a bad body, a CSRF refusal): still an operation.
      begin(op, true);
      if (!isAsyncIterable(result)) {
        op.errorCodes.push(...resultCodes(result));
        end(op);
        return;
      }
      setResult(
        mapAsyncIterator(
          result,
          (next) => {
            op.errorCodes.push(...resultCodes(next));
            return next;
          },
          (error: unknown) => {
            if (!isAbort(error)) op.errorCodes.push(errorCode(error));
            end(op);
            throw error;
          },
          () => end(op),
        ),
      );
    },
  };
}
