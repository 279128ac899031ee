import { ErrorCode, gatewayError } from './error-codes.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { bindToCaller, type CallerNomadClient } from './nomad/caller-client.ts';
import type { NomadClient } from './nomad/client.ts';
import { isSendableToken } from './nomad/token.ts';
import type { ExecSessions } from './exec/broker.ts';
import type { LiveAllocations } from './watch/live-allocations.ts';

/** What every resolver gets. Built fresh per request (or subscription), so nothing cached is shared between callers. */
export interface Context {
  /** Nomad, as this caller: every call carries the caller's token and is aborted when the caller goes away. */
  nomad: CallerNomadClient;
  /** The caller's Nomad token (or the configured default for callers that send none). Never logged. */
  token: string | undefined;
  /** Fires when the caller disconnects; every upstream call of this context is aborted with it. */
  signal: AbortSignal | undefined;
  /** Per-request batching and caching of upstream reads, made with this caller's token. */
  loaders: Loaders;
  /** Live views for subscriptions, shared by every caller of this replica (keyed by token inside). */
  live: LiveAllocations;
  /** Exec sessions, held here or on another replica (each checks the caller's token). */
  exec: ExecSessions;
}

/** What a transport knows of its caller: the token they presented (if any) and their lifetime. */
export interface CallerInput {
  /** The token the caller sent, from a header or a connection payload; undefined when none. */
  token: string | undefined;
  /** Aborts when the request or connection ends before the work is done. */
  signal?: AbortSignal;
}

export type ContextFactory = (caller: CallerInput) => Context;

export interface ContextFactoryOptions {
  nomad: NomadClient;
  /** `NOMAD_TOKEN`: used for callers that send no token of their own. */
  defaultToken: string | undefined;
  /** The replica's live views (subscriptions). */
  live: LiveAllocations;
  /** The replica's exec sessions. */
  exec: ExecSessions;
}

/**
 * The one way to build a Context, made by the composition root and handed to every transport
 * (HTTP, the federation subgraph, and later graphql-ws). A token that cannot be sent to Nomad
 * (spaces, non-ASCII) is refused with FORBIDDEN, as Nomad answers 403 for any token it does not
 * know; the token itself is never echoed.
 */
export function createContextFactory(options: ContextFactoryOptions): ContextFactory {
  const { nomad, defaultToken, live, exec } = options;
  return ({ token: presented, signal }) => {
    const token = presented ?? defaultToken;
    if (token !== undefined && !isSendableToken(token)) {
      throw gatewayError(ErrorCode.FORBIDDEN, 'Permission denied: the Nomad token has characters no Nomad token has', { http: { status: 403 } });
    }
    const caller = bindToCaller(nomad, { token, signal });
    return { nomad: caller, token, signal, loaders: createLoaders(caller), live, exec };
  };
}
