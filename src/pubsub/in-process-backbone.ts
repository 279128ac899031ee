import { BackboneClosedError, callGuarded, rethrowAsync, type Backbone, type BackboneOptions } from './backbone.ts';

interface LocalSubscription {
  readonly onMessage: (message: string) => void;
  active: boolean;
}

/**
 * A backbone within one process: the default when no Redis is configured (a single replica).
 * Messages are delivered from microtasks, never inside `publish`, in publish order. Two instances
 * are separate buses. Always connected until closed; `onReconnect` listeners are never called.
 */
export function createInProcessBackbone(options: BackboneOptions = {}): Backbone {
  const onListenerError = options.onListenerError ?? rethrowAsync;
  const channels = new Map<string, Set<LocalSubscription>>();
  let closed = false;

  return {
    get connected() {
      return !closed;
    },

    async publish(channel, message) {
      if (closed) throw new BackboneClosedError('publish');
      // Snapshot now: a subscription made after this publish must not receive it.
      const recipients = [...(channels.get(channel) ?? [])];
      if (recipients.length === 0) return 0;
      queueMicrotask(() => {
        for (const subscription of recipients) {
          if (subscription.active) callGuarded(subscription.onMessage, message, onListenerError);
        }
      });
      return recipients.length;
    },

    async subscribe(channel, onMessage) {
      if (closed) throw new BackboneClosedError('subscribe');
      const subscription: LocalSubscription = { onMessage, active: true };
      let subscriptions = channels.get(channel);
      if (subscriptions === undefined) {
        subscriptions = new Set();
        channels.set(channel, subscriptions);
      }
      subscriptions.add(subscription);
      return async () => {
        if (!subscription.active) return;
        subscription.active = false;
        const current = channels.get(channel);
        current?.delete(subscription);
        if (current?.size === 0) channels.delete(channel);
      };
    },

    onReconnect() {
      return () => {};
    },

    async close() {
      closed = true;
      for (const subscriptions of channels.values()) {
        for (const subscription of subscriptions) subscription.active = false;
      }
      channels.clear();
    },
  };
}
