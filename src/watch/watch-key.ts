import { createHash } from 'node:crypto';

/** What a watcher watches upstream: a filtered allocation list, or one allocation. */
export type WatchSpec =
  | {
      kind: 'allocations';
      namespace: string | undefined;
      prefix: string | undefined;
      filter: string | undefined;
      /** Whether the list carries each allocation's task states (`?task_states=`): only when a subscriber selects them. */
      taskStates: boolean;
    }
  | { kind: 'allocation'; id: string };

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A stand-in for a token that can leave the process: its SHA-256 (Nomad's secrets are 122-bit
 * random UUIDs or signed JWTs, so the digest reveals nothing usable). Callers without a token
 * share one digest.
 */
export function tokenDigest(token: string | undefined): string {
  return token === undefined ? 'anonymous' : sha256(`nomad-token:${token}`).slice(0, 40);
}

/**
 * The watch key: one upstream watcher per key across all replicas. Two callers share a key only
 * when they ask Nomad the same thing with the same token, so an event published on the key's
 * channel is only ever received by callers whose token fetched it.
 */
export function watchKey(spec: WatchSpec, token: string | undefined): string {
  const what =
    spec.kind === 'allocation'
      ? `allocation:${spec.id}`
      : `allocations:${sha256(JSON.stringify([spec.namespace ?? null, spec.prefix ?? null, spec.filter ?? null, spec.taskStates])).slice(0, 32)}`;
  return `${what}:${tokenDigest(token)}`;
}
