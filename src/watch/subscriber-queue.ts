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

/**
 * A consumer that does not keep up (a stalled socket, a frozen tab) must not grow the gateway's
 * memory: past `maxBuffered` unread events its stream fails with SUBSCRIBER_TOO_SLOW. `onClose`
 * runs once, however the stream ends (read to the end, failed, returned early, or `signal`).
 */
export function createSubscriberQueue<T>(options: {
  maxBuffered: number;
  signal?: AbortSignal;
  onClose: () => void;
  /**
   * The last event to hand a subscriber that fell behind, carrying the error, instead of failing
   * the iterator: a transport ends a subscription cleanly after an error event, while a failing
   * source iterator is an internal error to it (graphql-ws closes the whole socket with 4500).
   */
  overflowEvent?: (error: GraphQLError) => T;
}): SubscriberQueue<T> {
  const buffered: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let waitingReject: ((error: unknown) => void) | undefined;
  let ending: { error?: unknown } | undefined;
  let closed = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    options.signal?.removeEventListener('abort', onAbort);
    options.onClose();
  };
  const settleWaiting = (): void => {
    if (waiting === undefined) return;
    const resolve = waiting;
    const reject = waitingReject;
    if (buffered.length > 0) {
      waiting = undefined;
      waitingReject = undefined;
      resolve({ value: buffered.shift() as T, done: false });
    } else if (ending !== undefined) {
      waiting = undefined;
      waitingReject = undefined;
      close();
      if (ending.error !== undefined) reject?.(ending.error);
      else resolve({ value: undefined, done: true });
    }
  };
  const finish = (error?: unknown): void => {
    if (ending !== undefined) return;
    ending = error === undefined ? {} : { error };
    settleWaiting();
  };
  const onAbort = (): void => {
    buffered.length = 0;
    finish();
    close();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  const events: AsyncIterableIterator<T> = {
    next: () => {
      if (buffered.length > 0) return Promise.resolve({ value: buffered.shift() as T, done: false });
      if (ending !== undefined) {
        close();
        return ending.error !== undefined ? Promise.reject(ending.error) : Promise.resolve({ value: undefined, done: true });
      }
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        waiting = resolve;
        waitingReject = reject;
      });
    },
    return: () => {
      buffered.length = 0;
      ending ??= {};
      settleWaiting();
      close();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return events;
    },
  };

  return {
    push: (event) => {
      if (ending !== undefined) return;
      if (buffered.length >= options.maxBuffered) {
        // The backlog is dropped, not delivered: its memory is freed at once, and the subscriber
        // learns at its next read that it must subscribe again (and start over from `initial`).
        buffered.length = 0;
        const error = gatewayError(ErrorCode.SUBSCRIBER_TOO_SLOW, `This subscription fell ${options.maxBuffered} events behind and was ended; subscribe again`, {
          maximum: options.maxBuffered,
        });
        if (options.overflowEvent === undefined) {
          finish(error);
        } else {
          buffered.push(options.overflowEvent(error));
          finish();
        }
        return;
      }
      buffered.push(event);
      settleWaiting();
    },
    end: () => finish(),
    fail: (error) => finish(error),
    events,
  };
}
