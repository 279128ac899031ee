import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { createInProcessLeaseStore, createRedisLeaseStore, type LeaseStore } from '../../../src/pubsub/lease.ts';
import { eventually } from '../../helpers/async-queue.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { useRedisServer } from '../../helpers/redis-server.ts';

/** Long enough never to run out during a test. */
const LONG_MS = 60_000;
/** Short enough for the expiry tests; Redis really waits it out. */
const SHORT_MS = 200;

interface LeaseFixture {
  store: LeaseStore;
  /** Returns once at least `ms` have passed on the store's clock. */
  letTimePass(ms: number): Promise<void>;
}

interface LeaseBackend {
  name: string;
  /** Registers the describe's hooks; returns a factory of fresh stores for one test. */
  setup(): () => Promise<LeaseFixture>;
}

const inProcess: LeaseBackend = {
  name: 'in-process lease store',
  setup: () => async () => {
    let now = 1_700_000_000_000;
    return {
      store: createInProcessLeaseStore({ now: () => now }),
      letTimePass: async (ms) => {
        now += ms;
      },
    };
  },
};

const redis: LeaseBackend = {
  name: 'redis lease store',
  setup: () => {
    const server = useRedisServer();
    let prefix = '';
    beforeEach(() => {
      prefix = `test-${randomUUID()}:lease:`;
    });
    return async () => {
      const { redis: connection } = await connectRedis(server().url);
      const store = createRedisLeaseStore({ redis: connection, prefix });
      return {
        store,
        // Redis' own clock decides: a probe lease taken now with the same TTL must run out first.
        letTimePass: async (ms) => {
          const probe = `clock-${randomUUID()}`;
          await store.acquire(probe, 'clock', ms);
          await eventually(() => store.acquire(probe, 'clock-watcher', LONG_MS), `${ms} ms to pass in Redis`, { timeoutMs: ms + 5_000 });
        },
      };
    };
  },
};

for (const backend of [inProcess, redis]) {
  describe(backend.name, () => {
    const createFixture = backend.setup();

    it('should grant a free lease', async () => {
      const { store } = await createFixture();
      expect(await store.acquire('watch:a', 'replica-1', LONG_MS)).toBe(true);
    });

    it('should refuse a held lease to a second owner', async () => {
      const { store } = await createFixture();
      await store.acquire('watch:a', 'replica-1', LONG_MS);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(false);
    });

    it('should keep leases on different keys independent', async () => {
      const { store } = await createFixture();
      expect(await store.acquire('watch:a', 'replica-1', LONG_MS)).toBe(true);
      expect(await store.acquire('watch:b', 'replica-2', LONG_MS)).toBe(true);
      expect(await store.renew('watch:b', 'replica-1', LONG_MS)).toBe(false);
    });

    it('should renew for the owner and refuse anyone else', async () => {
      const { store } = await createFixture();
      await store.acquire('watch:a', 'replica-1', LONG_MS);
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(true);
      expect(await store.renew('watch:a', 'replica-2', LONG_MS)).toBe(false);
    });

    it('should refuse to renew a lease nobody holds', async () => {
      const { store } = await createFixture();
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(false);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(true);
    });

    it('should leave the lease with its owner when another owner releases it', async () => {
      const { store } = await createFixture();
      await store.acquire('watch:a', 'replica-1', LONG_MS);
      await store.release('watch:a', 'replica-2');
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(false);
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(true);
    });

    it('should free the lease when its owner releases it', async () => {
      const { store } = await createFixture();
      await store.acquire('watch:a', 'replica-1', LONG_MS);
      await store.release('watch:a', 'replica-1');
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(false);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(true);
    });

    it('should let another owner take an expired lease, and the old owner can no longer renew', async () => {
      const { store, letTimePass } = await createFixture();
      await store.acquire('watch:a', 'replica-1', SHORT_MS);
      await letTimePass(SHORT_MS);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(true);
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(false);
      await store.release('watch:a', 'replica-1');
      expect(await store.renew('watch:a', 'replica-2', LONG_MS)).toBe(true);
    });

    it('should extend the lease when its holder acquires it again', async () => {
      const { store, letTimePass } = await createFixture();
      await store.acquire('watch:a', 'replica-1', SHORT_MS);
      expect(await store.acquire('watch:a', 'replica-1', LONG_MS)).toBe(true);
      await letTimePass(SHORT_MS);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(false);
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(true);
    });

    it('should extend the lease when its holder renews it', async () => {
      const { store, letTimePass } = await createFixture();
      await store.acquire('watch:a', 'replica-1', SHORT_MS);
      expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(true);
      await letTimePass(SHORT_MS);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(false);
    });

    it('should reject a TTL that is not a positive whole number of milliseconds', async () => {
      const { store } = await createFixture();
      await expect(store.acquire('watch:a', 'replica-1', 0)).rejects.toBeInstanceOf(RangeError);
      await expect(store.acquire('watch:a', 'replica-1', 1.5)).rejects.toBeInstanceOf(RangeError);
      await expect(store.renew('watch:a', 'replica-1', -1)).rejects.toBeInstanceOf(RangeError);
      expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(true);
    });
  });
}

describe('redis lease store on the wire', () => {
  const server = useRedisServer();

  it('should keep each lease as a key under the prefix holding the owner, expiring by PX', async () => {
    const { redis: connection } = await connectRedis(server().url);
    const prefix = `nomadgw-${randomUUID()}:lease:`;
    const store = createRedisLeaseStore({ redis: connection, prefix });

    await store.acquire('watch:a', 'replica-1', LONG_MS);

    expect(await connection.keys(`${prefix}*`)).toEqual([`${prefix}watch:a`]);
    expect(await connection.get(`${prefix}watch:a`)).toBe('replica-1');
    const ttl = await connection.pttl(`${prefix}watch:a`);
    expect(ttl).toBeGreaterThan(LONG_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(LONG_MS);
  });

  it('should keep working after Redis forgot its scripts', async () => {
    const { redis: connection } = await connectRedis(server().url);
    const store = createRedisLeaseStore({ redis: connection, prefix: `nomadgw-${randomUUID()}:lease:` });
    await store.acquire('watch:a', 'replica-1', LONG_MS);

    await connection.script('FLUSH');

    expect(await store.renew('watch:a', 'replica-1', LONG_MS)).toBe(true);
    await connection.script('FLUSH');
    await store.release('watch:a', 'replica-1');
    await connection.script('FLUSH');
    expect(await store.acquire('watch:a', 'replica-2', LONG_MS)).toBe(true);
  });

  it('should reject promptly while Redis is unreachable', async () => {
    const { redis: connection } = await connectRedis(server().url);
    const store = createRedisLeaseStore({ redis: connection, prefix: `nomadgw-${randomUUID()}:lease:` });
    connection.disconnect();

    await expect(store.renew('watch:a', 'replica-1', LONG_MS)).rejects.toThrow();
  });
});
