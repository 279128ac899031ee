import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createSubscriberQueue } from '../../../src/watch/subscriber-queue.ts';

/**
 * The per-subscriber bound of the live layer: a subscriber that leaves `maxBuffered` events
 * unread is ended with SUBSCRIBER_TOO_SLOW instead of growing the gateway's memory, and its
 * `onClose` (which unregisters it from its watch) runs exactly once however the stream ends.
 */

/** A queue of numbers whose `onClose` calls are counted. */
function countedQueue(options: { maxBuffered: number; signal?: AbortSignal }) {
  let closes = 0;
  const queue = createSubscriberQueue<number>({ ...options, onClose: () => (closes += 1) });
  return { queue, closes: () => closes };
}

/** Settles `promise` into a value, so a rejection can be looked at without an unhandled rejection. */
function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** The `extensions.code` of a GraphQLError, or a description of what was thrown instead. */
function codeOf(error: unknown): unknown {
  return error instanceof GraphQLError ? error.extensions['code'] : `not a GraphQLError: ${String(error)}`;
}

describe('createSubscriberQueue', () => {
  it('should hand out pushed events in order, to a reader already waiting and to one that comes later', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 4 });
    const waiting = queue.events.next();
    queue.push(1);
    expect(await waiting).toEqual({ value: 1, done: false });
    queue.push(2);
    queue.push(3);
    expect(await queue.events.next()).toEqual({ value: 2, done: false });
    expect(await queue.events.next()).toEqual({ value: 3, done: false });
    expect(closes()).toBe(0);
  });

  it('should never fail a reader that keeps up, however many more than maxBuffered events it reads', async () => {
    const { queue } = countedQueue({ maxBuffered: 2 });
    const read: number[] = [];
    for (let i = 0; i < 50; i++) {
      queue.push(i);
      queue.push(i + 1000);
      read.push((await queue.events.next()).value as number, (await queue.events.next()).value as number);
    }
    expect(read).toHaveLength(100);
    expect(read.slice(0, 4)).toEqual([0, 1000, 1, 1001]);
  });

  it('should end a subscriber that leaves more than maxBuffered events unread with SUBSCRIBER_TOO_SLOW, and close it once', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 3 });
    for (const event of [1, 2, 3]) queue.push(event); // exactly at the bound: still fine
    expect(await queue.events.next()).toEqual({ value: 1, done: false });
    queue.push(4); // back at the bound
    queue.push(5); // past it
    // The backlog is dropped, not delivered: the subscriber learns at its next read that it must
    // subscribe again (and start over from an `initial` event), and its memory is freed at once.
    const first = await outcome(queue.events.next());
    expect('error' in first ? codeOf(first.error) : first).toBe('SUBSCRIBER_TOO_SLOW');
    expect('error' in first && first.error instanceof GraphQLError ? first.error.extensions['maximum'] : undefined).toBe(3);
    expect(closes()).toBe(1);

    // Later pushes are ignored, and however the stream is ended afterwards it closes only once.
    queue.push(6);
    await queue.events.return?.();
    expect(closes()).toBe(1);
  });

  it('should fail a reader that is already waiting when the bound is passed', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 1 });
    queue.push(1);
    expect(await queue.events.next()).toEqual({ value: 1, done: false });
    const waiting = outcome(queue.events.next());
    queue.push(2); // taken by the waiting reader at once
    expect(await waiting).toEqual({ value: { value: 2, done: false } });
    queue.push(3);
    queue.push(4); // past the bound of 1
    const next = await outcome(queue.events.next());
    expect('error' in next ? codeOf(next.error) : next).toBe('SUBSCRIBER_TOO_SLOW');
    expect(closes()).toBe(1);
  });

  it('should call onClose exactly once when the reader returns early, and end the stream for a pending read', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 8 });
    queue.push(1);
    expect(await queue.events.next()).toEqual({ value: 1, done: false });
    const pending = queue.events.next();
    expect(await queue.events.return?.()).toEqual({ value: undefined, done: true });
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(closes()).toBe(1);
    await queue.events.return?.();
    queue.push(2);
    expect(await queue.events.next()).toEqual({ value: undefined, done: true });
    expect(closes()).toBe(1);
  });

  it('should call onClose once when a for-await loop breaks out', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 8 });
    for (const event of [1, 2, 3]) queue.push(event);
    const seen: number[] = [];
    for await (const event of queue.events) {
      seen.push(event);
      if (event === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(closes()).toBe(1);
  });

  it('should end the stream, drop what is queued and close once when the signal aborts', async () => {
    const controller = new AbortController();
    const { queue, closes } = countedQueue({ maxBuffered: 8, signal: controller.signal });
    queue.push(1);
    queue.push(2);
    expect(await queue.events.next()).toEqual({ value: 1, done: false });
    controller.abort();
    expect(closes()).toBe(1);
    expect(await queue.events.next()).toEqual({ value: undefined, done: true });
    queue.push(3);
    expect(await queue.events.next()).toEqual({ value: undefined, done: true });
    await queue.events.return?.();
    expect(closes()).toBe(1);
  });

  it('should settle a read that is waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const { queue, closes } = countedQueue({ maxBuffered: 8, signal: controller.signal });
    const waiting = queue.events.next();
    controller.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(closes()).toBe(1);
  });

  it('should be over at once, and closed, for a signal that was already aborted', async () => {
    const { queue, closes } = countedQueue({ maxBuffered: 8, signal: AbortSignal.abort() });
    expect(closes()).toBe(1);
    queue.push(1);
    expect(await queue.events.next()).toEqual({ value: undefined, done: true });
    expect(closes()).toBe(1);
  });

  it('should deliver what is queued before end() and fail(), then end or reject, closing once', async () => {
    const ended = countedQueue({ maxBuffered: 8 });
    ended.queue.push(1);
    ended.queue.end();
    ended.queue.push(2); // after the end: ignored
    expect(await ended.queue.events.next()).toEqual({ value: 1, done: false });
    expect(ended.closes()).toBe(0);
    expect(await ended.queue.events.next()).toEqual({ value: undefined, done: true });
    expect(ended.closes()).toBe(1);

    const failed = countedQueue({ maxBuffered: 8 });
    const boom = new Error('upstream refused the token');
    failed.queue.push(1);
    failed.queue.fail(boom);
    expect(await failed.queue.events.next()).toEqual({ value: 1, done: false });
    expect(await outcome(failed.queue.events.next())).toEqual({ error: boom });
    expect(failed.closes()).toBe(1);
  });
});

describe('a subscriber queue with an overflow event', () => {
  it('should hand a subscriber that fell behind one last event carrying SUBSCRIBER_TOO_SLOW, then end', async () => {
    let closes = 0;
    const queue = createSubscriberQueue<{ n: number; error?: GraphQLError }>({
      maxBuffered: 2,
      onClose: () => (closes += 1),
      overflowEvent: (error) => ({ n: -1, error }),
    });
    for (const n of [1, 2, 3]) queue.push({ n });
    const last = await queue.events.next();
    expect(last.done).toBe(false);
    expect(last.value?.n).toBe(-1);
    expect(last.value?.error?.extensions['code']).toBe('SUBSCRIBER_TOO_SLOW');
    expect(last.value?.error?.extensions['maximum']).toBe(2);
    expect(await queue.events.next()).toEqual({ value: undefined, done: true });
    expect(closes).toBe(1);
  });
});
