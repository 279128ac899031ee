import type { GraphQLError } from 'graphql';
import { ErrorCode, gatewayError } from '../error-codes.ts';

/** One subscriber's pending events: a bounded queue read as an async iterable. */
export interface SubscriberQueue<T> {
  /** Queues an event; a subscriber with `maxBuffered` events not yet read is failed instead. */
  push(event: T): void;
  /** Ends the stream after what is queued. */
  end(): void;
  /** Ends the stream with an error after what is queued. */
  fail(error: unknown): void;
  readonly events: AsyncIterableIterator<T>;
}

/** Options of {@link createSubscriberQueue}. */
interface SubscriberQueueOptions<T> {
  maxBuffered: number;
  signal?: AbortSignal;
  onClose: () => void;
  /**
   * The last event to hand a subscriber that fell behind, carrying the error, instead of failing
   * the iterator: a transport ends a subscription cleanly after an error event, while a failing
   * source iterator is an internal error to it (graphql-ws closes the whole socket with 4500).
   */
  overflowEvent?: (error: GraphQLError) => T;
}

/**
 * The queue and its own iterator in one object, its methods on the prototype: one is held per
 * subscription, so closures per instance would be paid thousands of times over (they were about
 * 3 KB per idle subscription). It listens to the signal as an event listener object.
 */
class BoundedQueue<T> implements SubscriberQueue<T>, AsyncIterableIterator<T> {
  readonly #options: SubscriberQueueOptions<T>;
  readonly #buffered: T[] = [];
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  #ending: { error?: unknown } | undefined;
  #closed = false;

  constructor(options: SubscriberQueueOptions<T>) {
    this.#options = options;
    options.signal?.addEventListener('abort', this, { once: true });
    if (options.signal?.aborted === true) this.handleEvent();
  }

  get events(): AsyncIterableIterator<T> {
    return this;
  }

  /** The signal aborted: what is queued is dropped, and the stream ends. */
  handleEvent(): void {
    this.#buffered.length = 0;
    this.#finish();
    this.#close();
  }

  push(event: T): void {
    if (this.#ending !== undefined) return;
    const { maxBuffered, overflowEvent } = this.#options;
    if (this.#buffered.length >= maxBuffered) {
      // The backlog is dropped, not delivered: its memory is freed at once, and the subscriber
      // learns at its next read that it must subscribe again (and start over from `initial`).
      this.#buffered.length = 0;
      const error = gatewayError(ErrorCode.SUBSCRIBER_TOO_SLOW, `This subscription fell ${maxBuffered} events behind and was ended; subscribe again`, {
        maximum: maxBuffered,
      });
      if (overflowEvent === undefined) {
        this.#finish(error);
      } else {
        this.#buffered.push(overflowEvent(error));
        this.#finish();
      }
      return;
    }
    this.#buffered.push(event);
    this.#settleWaiting();
  }

  end(): void {
    this.#finish();
  }

  fail(error: unknown): void {
    this.#finish(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#buffered.length > 0) return Promise.resolve({ value: this.#buffered.shift() as T, done: false });
    const ending = this.#ending;
    if (ending !== undefined) {
      this.#close();
      return ending.error !== undefined ? Promise.reject(ending.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#buffered.length = 0;
    this.#ending ??= {};
    this.#settleWaiting();
    this.#close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.signal?.removeEventListener('abort', this);
    this.#options.onClose();
  }

  #settleWaiting(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    if (this.#buffered.length > 0) {
      this.#waiting = undefined;
      waiting.resolve({ value: this.#buffered.shift() as T, done: false });
    } else if (this.#ending !== undefined) {
      this.#waiting = undefined;
      this.#close();
      if (this.#ending.error !== undefined) waiting.reject(this.#ending.error);
      else waiting.resolve({ value: undefined, done: true });
    }
  }

  #finish(error?: unknown): void {
    if (this.#ending !== undefined) return;
    this.#ending = error === undefined ? {} : { error };
    this.#settleWaiting();
  }
}

/**
 * A consumer that does not keep up (a stalled socket, a frozen tab) must not grow the gateway's
 * memory: past `maxBuffered` unread events its stream fails with SUBSCRIBER_TOO_SLOW. `onClose`
 * runs once, however the stream ends (read to the end, failed, returned early, or `signal`).
 */
export function createSubscriberQueue<T>(options: SubscriberQueueOptions<T>): SubscriberQueue<T> {
  return new BoundedQueue(options);
}
