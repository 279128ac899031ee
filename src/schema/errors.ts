import { GraphQLError } from 'graphql';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { NomadDecodeError, NomadHttpError, NomadTimeoutError, NomadUnavailableError } from '../nomad/errors.ts';

/**
 * Nomad answers several user mistakes with a 500 (nomad-api.md §12). Matched on Nomad's exact
 * texts, so a user error is never reported as an outage.
 */
const KNOWN_500S: readonly [RegExp, ErrorCode][] = [
  [/^alloc lookup failed: index error: /, ErrorCode.BAD_USER_INPUT],
  [/^Unknown allocation "/, ErrorCode.FORBIDDEN],
  [/^task name cannot be set when restarting all tasks$/, ErrorCode.BAD_USER_INPUT],
  [/^Task not found$/, ErrorCode.BAD_USER_INPUT],
  [/^Could not find task runner for task: /, ErrorCode.BAD_USER_INPUT],
  [/Task not running/, ErrorCode.FAILED_PRECONDITION],
  [/^restart of an alloc that should not run$/, ErrorCode.FAILED_PRECONDITION],
  [/^Failed to parse value of /, ErrorCode.BAD_USER_INPUT],
  [/^failed to parse signal/, ErrorCode.BAD_USER_INPUT],
];

/** Nomad's 404s for an allocation whose node cannot be reached (not an unknown allocation). */
const NODE_GONE = /^(No path to node|Unknown node\b)/;

function fromHttpError(error: NomadHttpError): GraphQLError {
  const upstream = { upstreamStatus: error.status };
  switch (error.status) {
    case 400:
      return gatewayError(ErrorCode.BAD_USER_INPUT, error.nomadMessage, upstream);
    case 403:
      return gatewayError(ErrorCode.FORBIDDEN, `Nomad refused the request: ${error.nomadMessage}`, upstream);
    case 404:
      // Signal and restart answer 404 too when the allocation exists but its node is down or
      // unknown: the allocation is there, it just cannot be acted on (nomad-api.md §8.2, §12).
      if (NODE_GONE.test(error.nomadMessage)) return gatewayError(ErrorCode.FAILED_PRECONDITION, error.nomadMessage, upstream);
      return gatewayError(ErrorCode.NOT_FOUND, error.nomadMessage, upstream);
    default:
      break;
  }
  if (error.status === 500) {
    const known = KNOWN_500S.find(([pattern]) => pattern.test(error.nomadMessage));
    if (known !== undefined) {
      const message = known[1] === ErrorCode.FORBIDDEN ? `Not allowed to read this allocation (Nomad: ${error.nomadMessage})` : error.nomadMessage;
      return gatewayError(known[1], message, upstream);
    }
  }
  return gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `Nomad failed: ${error.status} ${error.nomadMessage}`, upstream);
}

/**
 * Maps an error from the Nomad client to a coded GraphQL error. Anything else is returned as
 * is, and yoga masks it as an unexpected error.
 */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof GraphQLError) return error;
  if (error instanceof NomadHttpError) return fromHttpError(error);
  if (error instanceof NomadTimeoutError) return gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Nomad did not answer in time');
  if (error instanceof NomadUnavailableError) return gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Nomad is unreachable');
  if (error instanceof NomadDecodeError) {
    return gatewayError(ErrorCode.UPSTREAM_INVALID_RESPONSE, `Nomad sent a response this gateway cannot read (at ${error.jsonPath})`);
  }
  return error;
}

/** Awaits an upstream call, turning its failure into a coded GraphQL error. */
export async function upstream<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw toGraphQLError(error);
  }
}

/**
 * Like `upstream`, for a call that changes something. When Nomad may have received the request
 * but the answer was lost (a timeout, a reset connection), the action may have been applied:
 * the error says so, since retrying a stop stops the replacement too. A refused connection
 * never reached Nomad and is reported as usual.
 */
export async function upstreamAction<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    const uncertain = error instanceof NomadTimeoutError || (error instanceof NomadUnavailableError && error.code !== 'ECONNREFUSED');
    if (uncertain) {
      const why = error instanceof NomadTimeoutError ? 'Nomad did not answer in time' : 'The connection to Nomad failed';
      throw gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `${why}; the action may still have been applied: check the allocation before retrying`, {
        mayHaveApplied: true,
      });
    }
    throw toGraphQLError(error);
  }
}
