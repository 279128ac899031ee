import { Redis, type RedisOptions } from 'ioredis';
import { onTestFinished } from 'vitest';
import { redisConnectionOptions } from '../../src/pubsub/redis-backbone.ts';
import { within } from './async-queue.ts';

/** An ioredis connection as the composition root makes it, plus the errors it emitted. */
export interface TestConnection {
  readonly redis: Redis;
  /** Every `error` event (connection refused while Redis is down...), kept off the console. */
  readonly errors: Error[];
}

/**
 * Opens a connection with `redisConnectionOptions()` (plus `overrides`) and waits until it is
 * ready. Call inside a test: the connection is disconnected when the test finishes, even if a
 * backbone or store already closed it.
 */
export async function connectRedis(url: string, overrides: RedisOptions = {}): Promise<TestConnection> {
  const errors: Error[] = [];
  const redis = new Redis(url, { ...redisConnectionOptions(), ...overrides });
  redis.on('error', (error: Error) => errors.push(error));
  onTestFinished(() => redis.disconnect());
  if (redis.status !== 'ready') await within(5_000, `a ready connection to ${url}`, new Promise((resolve) => redis.once('ready', resolve)));
  return { redis, errors };
}
