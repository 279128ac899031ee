import type { NomadClient } from './nomad/client.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { ErrorCode, gatewayError } from './schema/errors.ts';

/** What an HTTP header can carry to Nomad: visible ASCII. Nomad's secrets (UUIDs, JWTs) always are. */
const USABLE_TOKEN = /^[\x21-\x7e]+$/;

/** What every resolver gets. Built fresh per request, so nothing cached is shared between callers. */
export interface Context {
  nomad: NomadClient;
  /** The caller's Nomad token (or the configured default for callers that send none). Never logged. */
  token: string | undefined;
  /** Per-request batching and caching of upstream reads, keyed under this caller's token. */
  loaders: Loaders;
}

/**
 * The caller's token: `X-Nomad-Token`, else `Authorization: Bearer <token>`, else the
 * configured default. Headers are duck-typed: yoga's Request is a ponyfill (stack.md gotcha 4).
 */
export function tokenFromRequest(headers: { get(name: string): string | null }, fallback: string | undefined): string | undefined {
  const direct = headers.get('x-nomad-token')?.trim();
  if (direct !== undefined && direct !== '') return direct;
  const authorization = headers.get('authorization')?.trim();
  if (authorization !== undefined) {
    const [scheme, value] = authorization.split(/\s+/);
    if (scheme?.toLowerCase() === 'bearer' && value !== undefined && value !== '') return value;
  }
  return fallback;
}

/**
 * Throws FORBIDDEN for a token that cannot be sent to Nomad (spaces, non-ASCII), as Nomad
 * answers 403 for any token it does not know; the token itself is never echoed.
 */
export function createContext(nomad: NomadClient, token: string | undefined): Context {
  if (token !== undefined && token !== '' && !USABLE_TOKEN.test(token)) {
    throw gatewayError(ErrorCode.FORBIDDEN, 'Permission denied: the Nomad token has characters no Nomad token has', { http: { status: 403 } });
  }
  return { nomad, token, loaders: createLoaders(nomad, token) };
}
