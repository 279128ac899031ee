import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Backbone, BackboneOptions } from '../../../src/pubsub/backbone.ts';
import { createInProcessBackbone } from '../../../src/pubsub/in-process-backbone.ts';
import { createRedisBackbone } from '../../../src/pubsub/redis-backbone.ts';
import { createAsyncQueue, deferred } from '../../helpers/async-queue.ts';
import { connectRedis } from '../../helpers/redis-connection.ts';
import { useRedisServer } from '../../helpers/redis-server.ts';

interface CreateOptions extends BackboneOptions {
  /** Redis only: the channel prefix; backbones of one test share a fresh one by default. */
  prefix?: string;
}

interface BackboneBackend {
  name: string;
  /** Whether two instances share one medium, as two gateway replicas on one Redis do. */
  sharedMedium: boolean;
  /** Registers the describe's hooks; returns a factory of backbones closed when the test finishes. */
  setup(): (options?: CreateOptions) => Promise<Backbone>;
}

const inProcess: BackboneBackend = {
  name: 'in-process backbone',
  sharedMedium: false,
  setup: () => async (options) => {
    const backbone = createInProcessBackbone(options);
    onTestFinished(() => backbone.close());
    return backbone;
  },
};

const redis: BackboneBackend = {
  name: 'redis backbone',
  sharedMedium: true,
  setup: () => {
    const server = useRedisServer();
    let testPrefix = '';
    // A fresh prefix per test: a message a failed test left in flight can never reach the next one.
    beforeEach(() => {
      testPrefix = `test-${randomUUID()}:`;
    });
    return async ({ prefix = testPrefix, ...options } = {}) => {
      const [publisher, subscriber] = await Promise.all([connectRedis(server().url), connectRedis(server().url)]);
      const backbone = createRedisBackbone({ publisher: publisher.redis, subscriber: subscriber.redis, prefix, ...options });
      onTestFinished(() => backbone.close());
      return backbone;
    };
  },
};

for (const backend of [inProcess, redis]) {
  describe(backend.name, () => {
    const createBackbone = backend.setup();

    it('should deliver a message to every subscriber of its channel', async () => {
      const backbone = await createBackbone();
      const first = createAsyncQueue<string>();
      const second = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', first.push);
      await backbone.subscribe('alloc:1', second.push);

      await backbone.publish('alloc:1', 'hello');

      expect(await first.next()).toBe('hello');
      expect(await second.next()).toBe('hello');
    });

    it('should say whether anyone took a message: 0 on a channel nobody listens to, more once someone does', async () => {
      const backbone = await createBackbone();
      expect(await backbone.publish('exec:nobody', 'lost')).toBe(0);
      const listener = createAsyncQueue<string>();
      const unsubscribe = await backbone.subscribe('exec:nobody', listener.push);
      expect(await backbone.publish('exec:nobody', 'taken')).toBeGreaterThan(0);
      expect(await listener.next()).toBe('taken');
      await unsubscribe();
      expect(await backbone.publish('exec:nobody', 'lost again')).toBe(0);
    });

    it('should not deliver a message to subscribers of another channel', async () => {
      const backbone = await createBackbone();
      const other = createAsyncQueue<string>();
      await backbone.subscribe('alloc:2', other.push);

      await backbone.publish('alloc:1', 'not for you');
      await backbone.publish('alloc:2', 'marker');

      // One publisher's messages arrive in order, so the marker arriving first proves the other never will.
      expect(await other.next()).toBe('marker');
      expect(other.pending).toEqual([]);
    });

    it('should not deliver a message published before the subscription', async () => {
      const backbone = await createBackbone();
      await backbone.publish('alloc:1', 'too early');
      const late = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', late.push);

      await backbone.publish('alloc:1', 'on time');

      expect(await late.next()).toBe('on time');
      expect(late.pending).toEqual([]);
    });

    it('should deliver nothing inside publish itself', async () => {
      const backbone = await createBackbone();
      const received = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', received.push);

      const published = backbone.publish('alloc:1', 'later');
      expect(received.pending).toEqual([]);
      await published;

      expect(await received.next()).toBe('later');
    });

    it('should stop delivering once the subscription is ended', async () => {
      const backbone = await createBackbone();
      const ended = createAsyncQueue<string>();
      const marker = createAsyncQueue<string>();
      const unsubscribe = await backbone.subscribe('alloc:1', ended.push);
      await backbone.subscribe('alloc:marker', marker.push);

      await unsubscribe();
      await backbone.publish('alloc:1', 'after the end');
      await backbone.publish('alloc:marker', 'marker');

      expect(await marker.next()).toBe('marker');
      expect(ended.pending).toEqual([]);
    });

    it('should keep delivering to the other local subscription when one of two on a channel ends', async () => {
      const backbone = await createBackbone();
      const leaving = createAsyncQueue<string>();
      const staying = createAsyncQueue<string>();
      const unsubscribeLeaving = await backbone.subscribe('alloc:1', leaving.push);
      const unsubscribeStaying = await backbone.subscribe('alloc:1', staying.push);

      await backbone.publish('alloc:1', 'both');
      expect(await leaving.next()).toBe('both');
      expect(await staying.next()).toBe('both');

      await unsubscribeLeaving();
      await unsubscribeLeaving(); // a second call must not end the other subscription's share
      await backbone.publish('alloc:1', 'one');

      expect(await staying.next()).toBe('one');
      expect(leaving.pending).toEqual([]);
      await unsubscribeStaying();
    });

    it('should subscribe again to a channel whose last subscription ended', async () => {
      const backbone = await createBackbone();
      const unsubscribe = await backbone.subscribe('alloc:1', () => {});
      await unsubscribe();
      const again = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', again.push);

      await backbone.publish('alloc:1', 'welcome back');

      expect(await again.next()).toBe('welcome back');
    });

    it('should keep the order of many messages from one publisher', async () => {
      const backbone = await createBackbone();
      const received: string[] = [];
      const all = deferred();
      const count = 2_000;
      await backbone.subscribe('alloc:1', (message) => {
        received.push(message);
        if (received.length === count) all.resolve();
      });

      const sent = Array.from({ length: count }, (_, i) => `message ${i}`);
      await Promise.all(sent.map((message) => backbone.publish('alloc:1', message)));
      await all.promise;

      expect(received).toEqual(sent);
    });

    it('should deliver a 1 MB message intact', async () => {
      const backbone = await createBackbone();
      const received = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', received.push);
      const large = Array.from({ length: 1_024 * 1_024 }, (_, i) => String.fromCharCode(32 + (i % 95))).join('');

      await backbone.publish('alloc:1', large);

      const got = await received.next();
      expect(got.length).toBe(large.length);
      expect(got === large).toBe(true);
    });

    it('should keep non-ASCII text and 64-bit numbers intact', async () => {
      const backbone = await createBackbone();
      const received = createAsyncQueue<string>();
      await backbone.subscribe('alloc:ü-日本', received.push);
      const message = '{"ModifyIndex":18446744073709551615,"JobModifyIndex":9007199254740993,"Name":"grüße-日本-🚀","Nul":"a\\u0000b"}';
      const raw = 'line\r\nbreak\u0000nul \u2028 é\uD83D\uDE80';

      await backbone.publish('alloc:ü-日本', message);
      await backbone.publish('alloc:ü-日本', raw);

      expect(await received.next()).toBe(message);
      expect(await received.next()).toBe(raw);
    });

    it('should keep delivering to other subscribers when one throws, reporting the error', async () => {
      const errors = createAsyncQueue<unknown>();
      const backbone = await createBackbone({ onListenerError: errors.push });
      const received = createAsyncQueue<string>();
      await backbone.subscribe('alloc:1', () => {
        throw new Error('listener bug');
      });
      await backbone.subscribe('alloc:1', received.push);

      await backbone.publish('alloc:1', 'still delivered');

      expect(await received.next()).toBe('still delivered');
      expect(await errors.next()).toEqual(new Error('listener bug'));
    });

    it('should report connected until closed, and close idempotently, ending subscriptions', async () => {
      const backbone = await createBackbone();
      const received = createAsyncQueue<string>();
      const unsubscribe = await backbone.subscribe('alloc:1', received.push);
      expect(backbone.connected).toBe(true);

      await Promise.all([backbone.close(), backbone.close()]);
      await backbone.close();

      expect(backbone.connected).toBe(false);
      await expect(backbone.publish('alloc:1', 'after close')).rejects.toThrow(/closed/);
      await expect(backbone.subscribe('alloc:1', received.push)).rejects.toThrow(/closed/);
      await expect(unsubscribe()).resolves.toBeUndefined();
      expect(received.pending).toEqual([]);
    });

    if (backend.sharedMedium) {
      it('should carry messages between two replicas, each also hearing its own', async () => {
        const [replicaA, replicaB] = await Promise.all([createBackbone(), createBackbone()]);
        const heardByA = createAsyncQueue<string>();
        const heardByB = createAsyncQueue<string>();
        await replicaA.subscribe('alloc:1', heardByA.push);
        await replicaB.subscribe('alloc:1', heardByB.push);

        await replicaA.publish('alloc:1', 'from A');
        await replicaB.publish('alloc:1', 'from B');

        expect([await heardByA.next(), await heardByA.next()]).toEqual(['from A', 'from B']);
        expect([await heardByB.next(), await heardByB.next()]).toEqual(['from A', 'from B']);
      });

      it('should keep two prefixes on one medium apart', async () => {
        const blue = await createBackbone({ prefix: `blue-${randomUUID()}:` });
        const green = await createBackbone({ prefix: `green-${randomUUID()}:` });
        const heardByBlue = createAsyncQueue<string>();
        const heardByGreen = createAsyncQueue<string>();
        await blue.subscribe('alloc:1', heardByBlue.push);
        await green.subscribe('alloc:1', heardByGreen.push);

        await blue.publish('alloc:1', 'blue only');
        await green.publish('alloc:1', 'green only');

        // Redis handles the two PUBLISHes in turn: a leak into green would arrive before green's own.
        expect(await heardByBlue.next()).toBe('blue only');
        expect(await heardByGreen.next()).toBe('green only');
        // ...and one into blue before this marker.
        await blue.publish('alloc:1', 'blue marker');
        expect(await heardByBlue.next()).toBe('blue marker');
        expect(heardByBlue.pending).toEqual([]);
        expect(heardByGreen.pending).toEqual([]);
      });
    } else {
      it('should keep two instances apart, as separate single-replica buses', async () => {
        const [first, second] = await Promise.all([createBackbone(), createBackbone()]);
        const heardBySecond = createAsyncQueue<string>();
        await second.subscribe('alloc:1', heardBySecond.push);

        await first.publish('alloc:1', 'not shared');
        await second.publish('alloc:1', 'marker');

        expect(await heardBySecond.next()).toBe('marker');
        expect(heardBySecond.pending).toEqual([]);
      });
    }
  });
}
