/**
 * The message backbone between gateway replicas: plain string messages on named channels,
 * fire-and-forget (at most once, no history). Encoding and validation are the caller's job.
 */
export interface Backbone {
  /**
   * Sends `message` to every subscriber of `channel` on every replica (this one included).
   * Resolves once handed to the medium; delivery is asynchronous, never inside this call.
   * Rejects when it cannot be sent (disconnected, closed, timed out): a rejected message may or
   * may not have been delivered, so publishers that care resynchronise rather than retry blindly.
   * Resolves with how many subscribers took it: local subscriptions in-process, replicas
   * (subscribed connections) over Redis. 0 means nobody listens on the channel right now.
   */
  publish(channel: string, message: string): Promise<number>;
  /**
   * Delivers each message published on `channel` from now on to `onMessage`; resolves once the
   * subscription is active (for Redis: SUBSCRIBE acknowledged), with a function that ends it.
   * Several local subscriptions to one channel share one Redis subscription (refcounted).
   * Rejects when the subscription cannot be made (disconnected, closed).
   * The returned function is idempotent and never rejects; no message is delivered after it was called.
   * `onMessage` should not throw: a throw is handed to the backbone's `onListenerError` and
   * never stops delivery to the other subscribers.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Called whenever the connection came back after a loss: messages published meanwhile may have
   * been missed, so listeners resynchronise. When it is called, `connected` is true and every
   * subscription that existed before the loss is active again. Returns a function that removes the listener.
   */
  onReconnect(listener: () => void): () => void;
  /** Whether messages can flow now (false after `close()`). */
  readonly connected: boolean;
  /** Ends every subscription and closes connections. Idempotent. */
  close(): Promise<void>;
}

/** Options both backbones share. */
export interface BackboneOptions {
  /**
   * Receives what a subscriber's `onMessage` (or an `onReconnect` listener) threw.
   * @default rethrows it from a fresh microtask, i.e. an uncaught exception, as a throwing
   * EventEmitter listener would be: loud, but unable to corrupt the delivery loop.
   */
  onListenerError?: (error: unknown) => void;
}

/** Raised by a backbone that has been closed. */
export class BackboneClosedError extends Error {
  override readonly name = 'BackboneClosedError';
  constructor(operation: string) {
    super(`backbone is closed: cannot ${operation}`);
  }
}

/** The default `onListenerError`. */
export function rethrowAsync(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** Calls `listener` with `argument`, handing whatever it throws to `onError`. */
export function callGuarded<T>(listener: (argument: T) => void, argument: T, onError: (error: unknown) => void): void {
  try {
    listener(argument);
  } catch (error) {
    onError(error);
  }
}
