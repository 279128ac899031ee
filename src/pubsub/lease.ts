import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Time-limited exclusive ownership of a key, e.g. "which replica runs the upstream watcher for
 * this watch key". Owners are opaque strings, unique per replica (and per incarnation).
 * A holder keeps the lease by renewing well within `ttlMs`; when `renew` says false it must stop
 * acting as the owner at once, since another owner may already hold the lease.
 */
export interface LeaseStore {
  /** Takes `key` for `owner` for `ttlMs` if nobody holds it (Redis: SET key owner NX PX ttl). True when `owner` holds it afterwards (also when it already did: then the expiry is extended). */
  acquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease if `owner` still holds it (compare-and-pexpire, atomically in a Lua script); false when it was lost. */
  renew(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` still holds it (compare-and-delete in Lua); never deletes another owner's lease. */
  release(key: string, owner: string): Promise<void>;
}

/** Throws a RangeError unless `ttlMs` is a positive whole number of milliseconds (what PX accepts). */
function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`lease ttlMs must be a positive integer, got ${ttlMs}`);
}

interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// KEYS[1] lease key, ARGV[1] owner, ARGV[2] ttl in ms. One script, not SET NX then renew, so a
// lease that expires between the two steps cannot make a free key look taken.
const ACQUIRE = luaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

const RENEW = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Options of `createRedisLeaseStore`. */
export interface RedisLeaseStoreOptions {
  /**
   * A plain (non-subscriber) connection, e.g. the backbone's publisher, created with
   * `redisConnectionOptions()` so a call made while Redis is unreachable rejects instead of
   * waiting. The store does not close it.
   */
  redis: Redis;
  /** Prepended to every lease key, e.g. `nomadgw:lease:`. */
  prefix: string;
}

/**
 * Leases as Redis keys holding the owner, expiring by PX: Redis' clock decides expiry, so
 * replicas' clocks need not agree. Scripts run by EVALSHA, falling back to EVAL (which also
 * caches the script) when Redis does not know them, e.g. after a restart or SCRIPT FLUSH.
 */
export function createRedisLeaseStore(options: RedisLeaseStoreOptions): LeaseStore {
  const { redis, prefix } = options;

  const run = async (script: LuaScript, key: string, args: (string | number)[]): Promise<boolean> => {
    let result: unknown;
    try {
      result = await redis.evalsha(script.sha, 1, prefix + key, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      result = await redis.eval(script.source, 1, prefix + key, ...args);
    }
    return result === 1;
  };

  return {
    async acquire(key, owner, ttlMs) {
      checkTtl(ttlMs);
      return run(ACQUIRE, key, [owner, ttlMs]);
    },
    async renew(key, owner, ttlMs) {
      checkTtl(ttlMs);
      return run(RENEW, key, [owner, ttlMs]);
    },
    async release(key, owner) {
      await run(RELEASE, key, [owner]);
    },
  };
}

/** Options of `createInProcessLeaseStore`. */
export interface InProcessLeaseStoreOptions {
  /**
   * The clock leases expire by, in milliseconds.
   * @default Date.now
   */
  now?: () => number;
}

/** Leases in a Map, for a single replica and for tests (inject `now` to move time by hand). */
export function createInProcessLeaseStore(options: InProcessLeaseStoreOptions = {}): LeaseStore {
  const now = options.now ?? Date.now;
  const leases = new Map<string, { owner: string; expiresAt: number }>();

  /** The live holder of `key`, forgetting an expired lease. */
  const holder = (key: string): string | undefined => {
    const lease = leases.get(key);
    if (lease === undefined) return undefined;
    if (lease.expiresAt > now()) return lease.owner;
    leases.delete(key);
    return undefined;
  };

  return {
    async acquire(key, owner, ttlMs) {
      checkTtl(ttlMs);
      const current = holder(key);
      if (current !== undefined && current !== owner) return false;
      leases.set(key, { owner, expiresAt: now() + ttlMs });
      return true;
    },
    async renew(key, owner, ttlMs) {
      checkTtl(ttlMs);
      if (holder(key) !== owner) return false;
      leases.set(key, { owner, expiresAt: now() + ttlMs });
      return true;
    },
    async release(key, owner) {
      if (holder(key) === owner) leases.delete(key);
    },
  };
}
