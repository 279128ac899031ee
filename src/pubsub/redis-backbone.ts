import type { Redis, RedisOptions } from 'ioredis';
import { BackboneClosedError, callGuarded, rethrowAsync, type Backbone, type BackboneOptions } from './backbone.ts';

/** What `createRedisBackbone` is handed by the composition root. */
export interface RedisBackboneOptions extends BackboneOptions {
  /**
   * Connection for PUBLISH. May be shared with other plain commands (e.g. the lease store), but
   * `close()` disconnects it. Create it with `redisConnectionOptions()` (see there for why).
   */
  publisher: Redis;
  /**
   * A connection of its own for SUBSCRIBE: a subscribed Redis connection can run nothing else.
   * Create it with `redisConnectionOptions()`. The backbone owns it and disconnects it in `close()`.
   */
  subscriber: Redis;
  /**
   * Prepended to every channel on the wire, e.g. `nomadgw:`. Backbones with different prefixes on
   * one Redis never see each other's messages.
   */
  prefix: string;
}

/** Raised when a publish or subscribe is attempted while its Redis connection is not ready. */
export class BackboneDisconnectedError extends Error {
  override readonly name = 'BackboneDisconnectedError';
  constructor(operation: string, status: string) {
    super(`redis backbone cannot ${operation}: connection is ${status}`);
  }
}

/**
 * The ioredis options the composition root must use for the backbone's two connections (and the
 * lease store's), spread under any address/TLS options: `new Redis(url, { ...redisConnectionOptions(), ...tls })`.
 *
 * - `enableOfflineQueue: false`: a command issued while disconnected rejects at once instead of
 *   being queued and sent after the reconnect, possibly minutes later and after newer messages.
 * - `maxRetriesPerRequest: 0`: a command already written when the connection drops is rejected on
 *   the spot; otherwise ioredis re-sends it after the reconnect (`autoResendUnfulfilledCommands`),
 *   which for PUBLISH means a late, out-of-order message.
 * - `commandTimeout: 5000`: the two settings above only help once ioredis notices the loss; a
 *   half-open TCP connection goes unnoticed, so no command may wait for a reply forever.
 * - `autoResubscribe: true` (the default, stated because the backbone relies on it): ioredis
 *   re-subscribes the subscriber's channels on reconnect; the backbone then confirms them before
 *   it reports the reconnect.
 * - `retryStrategy`: reconnect forever, 100 ms more per attempt, at most every 2 s (ioredis'
 *   default grows by 50 ms to the same cap); returning a number keeps the connection alive.
 * - `connectTimeout: 5000`: a connect that hangs is retried sooner than ioredis' 10 s.
 *
 * Connections are used as they are: create them with `lazyConnect` unset and await their
 * `ready` event before serving, since with the offline queue off nothing is sent before that.
 */
export function redisConnectionOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 5_000,
    autoResubscribe: true,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    connectTimeout: 5_000,
  };
}

interface LocalSubscription {
  readonly onMessage: (message: string) => void;
  active: boolean;
}

/** One Redis subscription and the local subscriptions sharing it. */
interface ChannelEntry {
  readonly subscriptions: Set<LocalSubscription>;
  /** Settles when Redis acknowledged this entry's SUBSCRIBE. */
  readonly acknowledged: Promise<void>;
}

/**
 * A backbone over Redis pub/sub between gateway replicas. It owns both connections from now on.
 * Connection errors are not handled here: the composition root listens to `error` on both
 * connections (to log them); ioredis keeps reconnecting either way.
 *
 * `onReconnect` fires once per recovery of the subscriber connection, after it had been ready and
 * was lost: once ioredis re-subscribed, the backbone re-confirms every channel and, when the
 * publisher is ready as well, calls the listeners. A loss of the publisher alone loses no message
 * for subscribers (the failed publishes reject), so it fires nothing.
 */
export function createRedisBackbone(options: RedisBackboneOptions): Backbone {
  const { publisher, subscriber, prefix } = options;
  if (publisher === subscriber) throw new Error('createRedisBackbone: publisher and subscriber must be two connections');
  const onListenerError = options.onListenerError ?? rethrowAsync;
  /** Keyed by the channel on the wire (prefix included). */
  const channels = new Map<string, ChannelEntry>();
  /** Wire channels that are no longer wanted but whose UNSUBSCRIBE failed: dropped at the next resync. */
  const stale = new Set<string>();
  const reconnectListeners = new Set<() => void>();
  let closed: Promise<void> | undefined;
  /** Subscriber ready and, after a loss, every channel confirmed again. */
  let subscriberLive = subscriber.status === 'ready';
  let everLive = subscriberLive;
  /** The subscriber was lost after having been live and has not been resynchronised yet. */
  let lost = false;
  /** A loss the reconnect listeners have not been told about yet. */
  let unreported = false;
  /** Bumped on every subscriber close, so that a resync outlived by its connection is ignored. */
  let epoch = 0;

  const deliver = (wireChannel: string, message: string): void => {
    const entry = channels.get(wireChannel);
    if (entry === undefined) return;
    for (const subscription of [...entry.subscriptions]) {
      if (subscription.active) callGuarded(subscription.onMessage, message, onListenerError);
    }
  };

  const reportIfRecovered = (): void => {
    if (!unreported || !subscriberLive || publisher.status !== 'ready' || closed !== undefined) return;
    unreported = false;
    for (const listener of [...reconnectListeners]) callGuarded(listener, undefined, onListenerError);
  };

  const unsubscribeWire = async (wireChannels: string[]): Promise<void> => {
    try {
      await subscriber.unsubscribe(...wireChannels);
    } catch {
      if (closed !== undefined) return;
      for (const wireChannel of wireChannels) if (!channels.has(wireChannel)) stale.add(wireChannel);
    }
  };

  const resync = async (): Promise<void> => {
    const unwanted = [...stale].filter((wireChannel) => !channels.has(wireChannel));
    stale.clear();
    if (unwanted.length > 0) void unsubscribeWire(unwanted);
    const wanted = [...channels.keys()];
    // ioredis re-sent SUBSCRIBE for the channels it knew before emitting `ready` (autoResubscribe);
    // subscribing again is harmless, and its acknowledgement, queued behind theirs on the same
    // connection, is what says messages flow again. It also covers autoResubscribe turned off.
    if (wanted.length > 0) await subscriber.subscribe(...wanted);
  };

  const onSubscriberReady = (): void => {
    if (closed !== undefined) return;
    if (!lost) {
      subscriberLive = true;
      everLive = true;
      return;
    }
    const resyncEpoch = epoch;
    resync().then(
      () => {
        if (closed !== undefined || epoch !== resyncEpoch) return;
        lost = false;
        subscriberLive = true;
        reportIfRecovered();
      },
      () => {
        if (closed !== undefined || epoch !== resyncEpoch) return;
        // Connected, yet the channels could not be confirmed (a command timeout): reconnect and
        // resync again rather than stay silently deaf.
        subscriber.disconnect(true);
      },
    );
  };

  const onSubscriberClose = (): void => {
    epoch += 1;
    subscriberLive = false;
    if (everLive) {
      lost = true;
      unreported = true;
    }
  };

  subscriber.on('message', deliver);
  subscriber.on('ready', onSubscriberReady);
  subscriber.on('close', onSubscriberClose);
  publisher.on('ready', reportIfRecovered);

  const disconnect = async (connection: Redis): Promise<void> => {
    if (connection.status === 'end') return;
    // Between two attempts there is no socket: ioredis (5.11) then only clears its retry timer,
    // and no `end` event ever comes (its status stays `reconnecting`). Nothing is left to wait for.
    if (connection.status === 'reconnecting') {
      connection.disconnect();
      return;
    }
    const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
    connection.disconnect();
    await ended;
  };

  return {
    get connected() {
      return closed === undefined && subscriberLive && publisher.status === 'ready';
    },

    async publish(channel, message) {
      if (closed !== undefined) throw new BackboneClosedError('publish');
      // Checked here too so that the promptness does not depend on the connection's options.
      if (publisher.status !== 'ready') throw new BackboneDisconnectedError('publish', publisher.status);
      return publisher.publish(prefix + channel, message);
    },

    async subscribe(channel, onMessage) {
      if (closed !== undefined) throw new BackboneClosedError('subscribe');
      if (subscriber.status !== 'ready') throw new BackboneDisconnectedError('subscribe', subscriber.status);
      const wireChannel = prefix + channel;
      let entry = channels.get(wireChannel);
      if (entry === undefined) {
        stale.delete(wireChannel);
        const created: ChannelEntry = {
          subscriptions: new Set(),
          acknowledged: subscriber.subscribe(wireChannel).then(() => undefined),
        };
        created.acknowledged.catch(() => {
          if (channels.get(wireChannel) !== created) return;
          channels.delete(wireChannel);
          // It may still have reached Redis (a timeout): drop it at the next resync.
          stale.add(wireChannel);
        });
        channels.set(wireChannel, created);
        entry = created;
      }
      const subscription: LocalSubscription = { onMessage, active: true };
      const shared = entry;
      shared.subscriptions.add(subscription);
      try {
        await shared.acknowledged;
      } catch (error) {
        subscription.active = false;
        shared.subscriptions.delete(subscription);
        throw error;
      }
      return async () => {
        if (!subscription.active) return;
        subscription.active = false;
        shared.subscriptions.delete(subscription);
        if (shared.subscriptions.size > 0 || channels.get(wireChannel) !== shared || closed !== undefined) return;
        channels.delete(wireChannel);
        await unsubscribeWire([wireChannel]);
      };
    },

    onReconnect(listener) {
      const wrapped = (): void => listener();
      reconnectListeners.add(wrapped);
      return () => {
        reconnectListeners.delete(wrapped);
      };
    },

    close() {
      if (closed !== undefined) return closed;
      for (const entry of channels.values()) {
        for (const subscription of entry.subscriptions) subscription.active = false;
      }
      channels.clear();
      stale.clear();
      reconnectListeners.clear();
      subscriber.off('message', deliver);
      subscriber.off('ready', onSubscriberReady);
      subscriber.off('close', onSubscriberClose);
      publisher.off('ready', reportIfRecovered);
      closed = Promise.all([disconnect(publisher), disconnect(subscriber)]).then(() => undefined);
      return closed;
    },
  };
}
