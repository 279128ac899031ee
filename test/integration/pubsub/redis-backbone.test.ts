import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Backbone } from '../../../src/pubsub/backbone.ts';
import { BackboneDisconnectedError, createRedisBackbone, redisConnectionOptions } from '../../../src/pubsub/redis-backbone.ts';
import { createAsyncQueue, nextEvent, within, type AsyncQueue } from '../../helpers/async-queue.ts';
import { connectRedis, type TestConnection } from '../../helpers/redis-connection.ts';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.ts';

const PREFIX = 'nomadgw:';

interface Replica {
  backbone: Backbone;
  publisher: TestConnection;
  subscriber: TestConnection;
  /** One entry per `onReconnect` call. */
  reconnects: AsyncQueue<void>;
}

async function startReplica(server: RedisServer): Promise<Replica> {
  const [publisher, subscriber] = await Promise.all([connectRedis(server.url), connectRedis(server.url)]);
  const backbone = createRedisBackbone({ publisher: publisher.redis, subscriber: subscriber.redis, prefix: PREFIX });
  onTestFinished(() => backbone.close());
  const reconnects = createAsyncQueue<void>();
  backbone.onReconnect(() => reconnects.push());
  return { backbone, publisher, subscriber, reconnects };
}

/** How many Redis connections are subscribed to `channel` (prefix included). */
async function subscriberCount(probe: TestConnection, channel: string): Promise<number> {
  const reply = await probe.redis.pubsub('NUMSUB', channel);
  return Number(reply[1]);
}

/** Kills the server hard and resolves once both of the replica's connections noticed. */
async function killRedis(server: RedisServer, replica: Replica): Promise<void> {
  const lost = Promise.all([nextEvent(replica.publisher.redis, 'close'), nextEvent(replica.subscriber.redis, 'close')]);
  await server.kill('SIGKILL');
  await within(5_000, 'both connections to notice the loss', lost);
}

describe('redis backbone', () => {
  it('should share one Redis subscription between the local subscriptions to a channel', async () => {
    const server = await startRedisServer();
    const { backbone } = await startReplica(server);
    const probe = await connectRedis(server.url);

    const first = await backbone.subscribe('alloc:1', () => {});
    const second = await backbone.subscribe('alloc:1', () => {});
    expect(await subscriberCount(probe, `${PREFIX}alloc:1`)).toBe(1);
    expect(await probe.redis.pubsub('CHANNELS', `${PREFIX}*`)).toEqual([`${PREFIX}alloc:1`]);

    await first();
    expect(await subscriberCount(probe, `${PREFIX}alloc:1`)).toBe(1);
    await second();
    expect(await subscriberCount(probe, `${PREFIX}alloc:1`)).toBe(0);
  });

  it('should become connected over connections still connecting, without reporting a reconnect', async () => {
    const server = await startRedisServer();
    const publisher = new Redis(server.url, redisConnectionOptions());
    const subscriber = new Redis(server.url, redisConnectionOptions());
    const backbone = createRedisBackbone({ publisher, subscriber, prefix: PREFIX });
    onTestFinished(() => backbone.close());
    const reconnects = createAsyncQueue<void>();
    backbone.onReconnect(() => reconnects.push());
    expect(backbone.connected).toBe(false);

    await within(5_000, 'both connections to be ready', Promise.all([nextEvent(publisher, 'ready'), nextEvent(subscriber, 'ready')]));

    expect(backbone.connected).toBe(true);
    const received = createAsyncQueue<string>();
    await backbone.subscribe('alloc:1', received.push);
    await backbone.publish('alloc:1', 'first');
    expect(await received.next()).toBe('first');
    expect(reconnects.pending).toHaveLength(0);
  });

  it('should go disconnected when Redis dies, reject publishes promptly, and resume after a restart with one reconnect report', async () => {
    const server = await startRedisServer();
    const replica = await startReplica(server);
    const { backbone } = replica;
    const received = createAsyncQueue<string>();
    await backbone.subscribe('alloc:1', received.push);
    await backbone.publish('alloc:1', 'before');
    expect(await received.next()).toBe('before');
    expect(replica.reconnects.pending).toHaveLength(0); // the first ready is no reconnect

    await killRedis(server, replica);

    expect(backbone.connected).toBe(false);
    const started = performance.now();
    await expect(within(3_000, 'publish to reject', backbone.publish('alloc:1', 'while down'))).rejects.toBeInstanceOf(BackboneDisconnectedError);
    await expect(within(3_000, 'subscribe to reject', backbone.subscribe('alloc:2', () => {}))).rejects.toBeInstanceOf(BackboneDisconnectedError);
    expect(performance.now() - started).toBeLessThan(1_000);

    await server.restart();
    await replica.reconnects.next(10_000);

    expect(backbone.connected).toBe(true);
    await backbone.publish('alloc:1', 'after');
    expect(await received.next()).toBe('after'); // no re-subscribe by hand, and nothing from the outage
    expect(replica.reconnects.pending).toHaveLength(0);
    const probe = await connectRedis(server.url);
    expect(await subscriberCount(probe, `${PREFIX}alloc:1`)).toBe(1);
  });

  it('should deliver between replicas again after a restart, reporting each recovery once', async () => {
    const server = await startRedisServer();
    const watcher = await startReplica(server);
    const listener = await startReplica(server);
    const received = createAsyncQueue<string>();
    await listener.backbone.subscribe('alloc:1', received.push);

    for (const round of [1, 2]) {
      const lost = killRedis(server, listener);
      await killRedis(server, watcher);
      await lost;
      await server.restart();
      await Promise.all([watcher.reconnects.next(10_000), listener.reconnects.next(10_000)]);

      await watcher.backbone.publish('alloc:1', `round ${round}`);
      expect(await received.next()).toBe(`round ${round}`);
    }
    expect(listener.reconnects.pending).toHaveLength(0);
    expect(watcher.reconnects.pending).toHaveLength(0);
  });

  it('should report a reconnect and resubscribe when only the subscriber connection is dropped', async () => {
    const server = await startRedisServer();
    const replica = await startReplica(server);
    const received = createAsyncQueue<string>();
    await replica.backbone.subscribe('alloc:1', received.push);
    const probe = await connectRedis(server.url);

    const lost = nextEvent(replica.subscriber.redis, 'close');
    await probe.redis.client('KILL', 'TYPE', 'pubsub');
    await lost;
    await replica.reconnects.next(10_000);

    expect(replica.backbone.connected).toBe(true);
    await replica.backbone.publish('alloc:1', 'after the drop');
    expect(await received.next()).toBe('after the drop');
    expect(replica.reconnects.pending).toHaveLength(0);
  });

  it('should close without hanging while Redis is down', async () => {
    const server = await startRedisServer();
    const replica = await startReplica(server);
    await replica.backbone.subscribe('alloc:1', () => {});
    await killRedis(server, replica);

    await within(3_000, 'close() while Redis is down', replica.backbone.close());

    expect(replica.backbone.connected).toBe(false);
    await expect(replica.backbone.publish('alloc:1', 'after close')).rejects.toThrow(/closed/);
  });
});
