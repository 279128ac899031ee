import type { YogaInitialContext } from 'graphql-yoga';
import type { CallerInput, Context } from '../context.ts';
import { tokenFromHeaders } from '../nomad/token.ts';
import { tokenDigest } from '../watch/watch-key.ts';
import type { SubscriptionCaller } from './shared-subscription-events.ts';

/**
 * Who an operation runs for. Over HTTP (and SSE) yoga hands us the request: the token is in its
 * headers and its signal fires when the client goes away. Over WebSocket there is no request
 * (stack.md gotcha 3): the graphql-ws glue passes the caller it read from `connection_init`.
 */
export function callerOf(initial: Partial<YogaInitialContext> & Record<string, unknown>): CallerInput {
  const given = initial['caller'];
  if (isCallerInput(given)) return given;
  const { request } = initial;
  if (request === undefined) return { token: undefined };
  return { token: tokenFromHeaders(request.headers), signal: request.signal };
}

function isCallerInput(value: unknown): value is CallerInput {
  return typeof value === 'object' && value !== null && 'token' in value && (typeof value.token === 'string' || value.token === undefined);
}

/** A subscriber as shared subscription events tell callers apart: by its token's digest; and its lifetime. */
export function subscriptionCaller(context: Context): SubscriptionCaller {
  return { key: tokenDigest(context.token), signal: context.signal };
}
