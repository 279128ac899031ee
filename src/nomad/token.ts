/**
 * What a Nomad ACL token can be, and where a caller puts it. Defined once: the configuration,
 * the per-request context and the HTTP transport all ask the same question.
 */

/** Visible ASCII: all an HTTP header can carry, and all Nomad's secrets (UUIDs, JWTs) ever are. */
const SENDABLE = /^[\x21-\x7e]+$/;

/** Whether `token` can travel in the `X-Nomad-Token` header unchanged (non-empty, visible ASCII). */
export function isSendableToken(token: string): boolean {
  return SENDABLE.test(token);
}

/** Request headers, duck-typed: yoga's Request is a ponyfill, not the platform's (stack.md gotcha 4). */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The caller's token: `X-Nomad-Token`, else `Authorization: Bearer <token>`; undefined when
 * neither is present or both are empty. The value is not checked here (see `isSendableToken`).
 */
export function tokenFromHeaders(headers: HeaderSource): string | undefined {
  const direct = headers.get('x-nomad-token')?.trim();
  if (direct !== undefined && direct !== '') return direct;
  const authorization = headers.get('authorization')?.trim();
  if (authorization === undefined) return undefined;
  const [scheme, value] = authorization.split(/\s+/);
  return scheme?.toLowerCase() === 'bearer' && value !== undefined && value !== '' ? value : undefined;
}
