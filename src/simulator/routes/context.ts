import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Allocation } from '../../nomad/types.ts';
import { INVALID_TOKEN, tokenFromHeaders, type AclStore, type Authority } from '../acl.ts';
import { blockingTimeoutMs } from '../blocking.ts';
import type { Cluster } from '../cluster.ts';
import { HttpError } from '../http-kit.ts';
import type { QueryOptions } from '../query-params.ts';
import type { Random } from '../random.ts';
import type { Store } from '../store.ts';
import { uuidIndexError, uuidKey } from '../uuid-index.ts';

/** Everything a route can reach: the state, the cluster's behaviour, ACLs and counters. */
export interface Simulation {
  store: Store;
  cluster: Cluster;
  acl: AclStore;
  random: Random;
  filterDatum: (alloc: Allocation) => unknown;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path segments after the route's prefix. */
  segments: string[];
  sim: Simulation;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

export type Route = (ctx: RouteContext) => Promise<void> | void;

/** The caller's authority; an unknown or expired token is Nomad's 403 `Permission denied`. */
export function authorize(ctx: RouteContext, fallbackToken?: string): Authority {
  const authority = ctx.sim.acl.resolve(tokenFromHeaders(ctx.req.headers) ?? fallbackToken);
  if (authority === INVALID_TOKEN) throw new HttpError(403, 'Permission denied');
  return authority;
}

export function requireMethod(ctx: RouteContext, ...methods: string[]): void {
  if (!methods.includes(ctx.req.method ?? '')) throw new HttpError(405, 'Invalid method');
}

/**
 * Looks an allocation up by full id, as memdb does (case-insensitive, hyphens ignored);
 * a malformed id is Nomad's 500 `alloc lookup failed: index error: …`.
 */
export function lookupAllocation(sim: Simulation, id: string): Allocation | undefined {
  const problem = uuidIndexError(id, { exact: true });
  if (problem !== undefined) throw new HttpError(500, `alloc lookup failed: index error: ${problem}`);
  const key = uuidKey(id);
  if (key.length !== 32) return undefined;
  const canonical = `${key.slice(0, 8)}-${key.slice(8, 12)}-${key.slice(12, 16)}-${key.slice(16, 20)}-${key.slice(20)}`;
  return sim.store.allocs.get(canonical);
}

/**
 * Holds a blocking query (`index` > 0) until `currentIndex()` passes it, `wait` (plus jitter)
 * runs out, or the client leaves. Without `index` it returns at once. `wakeWhen` narrows what
 * wakes a waiting query when it differs from the index test (Nomad's watch sets).
 */
export async function blockIfAsked(
  ctx: RouteContext,
  query: QueryOptions,
  currentIndex: () => bigint,
  wakeWhen: () => boolean = () => currentIndex() > query.index,
): Promise<void> {
  if (query.index === 0n || currentIndex() > query.index) return;
  const timeout = blockingTimeoutMs(query.waitMs, () => ctx.sim.random.next());
  await ctx.sim.store.waitUntil(wakeWhen, timeout, ctx.signal);
}
