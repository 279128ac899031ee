import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { useOperationOutcomes, type OperationOutcome } from './operation-outcome.ts';

/** The header a request id comes in and goes back out in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What a request id taken from a client (or a proxy in front) may look like: a token of at most
 * 128 letters, digits and `._:-` (UUIDs, ULIDs, nginx's `$request_id`), so nothing else lands in the logs.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The request id to use for an incoming `x-request-id` value: that value when it is sane, else a new one. */
export function requestIdFrom(header: string | null | undefined, newId: () => string = randomUUID): string {
  const given = header?.trim();
  return given !== undefined && SANE_REQUEST_ID.test(given) ? given : newId();
}

export interface RequestLogOptions {
  /** The app's logger; each operation is one `info` line. */
  logger: Logger;
  /** Which endpoint the operations came to (`/graphql`, `/subgraph`), in each line. */
  endpoint: string;
  /** A request id for requests that bring none (or an unusable one). @default randomUUID */
  newId?: () => string;
  /** Milliseconds from an arbitrary origin, for durations. @default performance.now */
  now?: () => number;
}

/** The fields of one log line; the values only, never a token, the variables or the query text. */
function lineOf(endpoint: string, outcome: OperationOutcome) {
  return {
    requestId: outcome.requestId,
    endpoint,
    transport: outcome.transport,
    operationName: outcome.operationName,
    operationType: outcome.operationType,
    durationMs: Math.round(outcome.durationMs * 10) / 10,
    errorCodes: [...new Set(outcome.errorCodes)],
    errorCount: outcome.errorCodes.length,
  };
}

/**
 * One pino line per GraphQL operation, when it ends (a subscription when it ends): request id,
 * endpoint, transport, operation name and type, duration, the error codes of its results. Over
 * HTTP the request id is the request's sane `x-request-id`, or a new one, and is echoed in the
 * response's `x-request-id`; over WebSocket it is the connection's (from the upgrade request).
 * Nothing of the request is logged beyond that: not the token, not the variables (they may hold
 * secrets), not the query text (only the operation's name).
 */
export function useRequestLog(options: RequestLogOptions): Plugin {
  const { logger, endpoint } = options;
  const newId = options.newId ?? randomUUID;
  const ids = new WeakMap<Request, string>();
  return {
    onPluginInit: ({ addPlugin }) => {
      // Added right after this plugin, so that request ids exist before it looks for them.
      addPlugin(
        useOperationOutcomes({
          requestIdOf: (request) => ids.get(request),
          now: options.now,
          onOutcome: (outcome) => logger.info(lineOf(endpoint, outcome), 'graphql operation'),
        }),
      );
    },
    onRequest: ({ request }) => {
      ids.set(request, requestIdFrom(request.headers.get(REQUEST_ID_HEADER), newId));
    },
    onResponse: ({ request, response }) => {
      const id = ids.get(request);
      if (id !== undefined) response.headers.set(REQUEST_ID_HEADER, id);
    },
  };
}
