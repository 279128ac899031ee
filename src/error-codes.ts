import { GraphQLError } from 'graphql';

/**
 * Every `extensions.code` this API returns. Shared by the schema, the context and the servers,
 * so it belongs to none of them.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  /** The request is valid but the allocation or task is not in a state that allows it. */
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  /** Nomad answered with something this gateway cannot read. */
  UPSTREAM_INVALID_RESPONSE: 'UPSTREAM_INVALID_RESPONSE',
  /** The operation is deeper, or has more aliases or directives, than the gateway allows. */
  QUERY_LIMIT_EXCEEDED: 'QUERY_LIMIT_EXCEEDED',
  /** A persisted-query hash the gateway does not know yet: send the query text with it. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** A query text whose SHA-256 is not the hash sent with it. */
  PERSISTED_QUERY_MISMATCH: 'PERSISTED_QUERY_MISMATCH',
  /** A subscriber fell too far behind its events and its subscription was ended. */
  SUBSCRIBER_TOO_SLOW: 'SUBSCRIBER_TOO_SLOW',
  /** The replica serves as many subscriptions as it may; another replica may take this one. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /**
   * The replica is shutting down (SIGTERM): it takes no new subscription or exec session, and
   * ends the exec sessions it holds with this. Try again: another replica will answer.
   */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** No exec session has this id (it ended, or never existed). */
  EXEC_SESSION_NOT_FOUND: 'EXEC_SESSION_NOT_FOUND',
  /** Too many exec sessions for this token or this replica. */
  EXEC_SESSION_LIMIT: 'EXEC_SESSION_LIMIT',
  /** An exec session saw no input or output for too long and was closed. */
  EXEC_IDLE_TIMEOUT: 'EXEC_IDLE_TIMEOUT',
  /** Schema introspection is turned off on this gateway. */
  INTROSPECTION_DISABLED: 'INTROSPECTION_DISABLED',
  /** Too many mutations or new subscriptions for this token; `retryAfterSeconds` says when to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The request body is larger than the gateway takes. */
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  /** A POST with a form's media type (CSRF prevention): GraphQL requests are JSON. */
  CSRF_PREVENTED: 'CSRF_PREVENTED',
  /** Trusted-documents mode: only the deployment's own documents run, named by their hash. */
  PERSISTED_QUERY_ONLY: 'PERSISTED_QUERY_ONLY',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function gatewayError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}
