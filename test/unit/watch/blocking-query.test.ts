import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  abortableDelay,
  DEFAULT_BURST,
  DEFAULT_MIN_INTERVAL_MS,
  DEFAULT_WATCH_WAIT_MS,
  watchBlockingQuery,
  type BlockingFetch,
  type BlockingRequest,
  type WatchUpdate,
} from '../../../src/watch/blocking-query.ts';

/** One scripted answer: data at an index, a failure, or a request that hangs until aborted. */
type Step = { index: bigint; value: string } | { error: Error } | 'hang';

/**
 * A `fetch` that plays `steps` in order and keeps a log of the requests it got. Once the script
 * runs out, requests hang (like a blocking query with nothing to report) until aborted.
 */
function scripted(steps: Step[]) {
  const requests: BlockingRequest[] = [];
  const fetch: BlockingFetch<string> = async (request) => {
    requests.push(request);
    const step = steps.shift() ?? 'hang';
    if (step === 'hang') return hang(request.signal);
    if ('error' in step) throw step.error;
    return step;
  };
  return { fetch, requests, indexes: () => requests.map((r) => r.index) };
}

/** Settles only when `signal` aborts, rejecting with its reason, as an aborted HTTP call does. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** A delay that resolves at once and logs what it was asked to wait. */
function instantDelay() {
  const waits: number[] = [];
  const delay = async (ms: number): Promise<void> => {
    waits.push(ms);
  };
  return { delay, waits };
}

/** Pulls `count` updates from an iterator that stays open. */
async function take<T>(iterator: AsyncIterator<WatchUpdate<T>>, count: number): Promise<WatchUpdate<T>[]> {
  const updates: WatchUpdate<T>[] = [];
  for (let i = 0; i < count; i++) {
    const result = await iterator.next();
    if (result.done === true) throw new Error(`the watch ended after ${i} of ${count} updates`);
    updates.push(result.value);
  }
  return updates;
}

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const value = (index: bigint, v = `v${index}`): Step => ({ index, value: v });

describe('watchBlockingQuery', () => {
  const controllers: AbortController[] = [];
  /** A signal aborted after each test, so no watch outlives its test. */
  function testSignal(): AbortController {
    const controller = new AbortController();
    controllers.push(controller);
    return controller;
  }
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort();
    vi.useRealTimers();
  });

  function start(steps: Step[], options: { startIndex?: bigint; minIntervalMs?: number; backoff?: (attempt: number) => number } = {}) {
    const source = scripted(steps);
    const { delay, waits } = instantDelay();
    const controller = testSignal();
    const watch = watchBlockingQuery({
      fetch: source.fetch,
      delay,
      minIntervalMs: options.minIntervalMs ?? 0,
      backoff: options.backoff ?? ((attempt) => attempt * 1000),
      startIndex: options.startIndex,
      signal: controller.signal,
    });
    return { ...source, waits, controller, iterator: watch[Symbol.asyncIterator]() };
  }

  it('should make the first request with index 0, a read that answers at once, then block on each returned index', async () => {
    const { iterator, indexes } = start([value(7n), value(9n), value(12n)]);
    expect(await take(iterator, 3)).toEqual([
      { kind: 'value', index: 7n, value: 'v7' },
      { kind: 'value', index: 9n, value: 'v9' },
      { kind: 'value', index: 12n, value: 'v12' },
    ]);
    await iterator.return?.();
    expect(indexes()).toEqual([0n, 7n, 9n]);
  });

  it('should make the first request with startIndex when one is given', async () => {
    const { iterator, indexes } = start([value(51n)], { startIndex: 50n });
    expect(await take(iterator, 1)).toEqual([{ kind: 'value', index: 51n, value: 'v51' }]);
    expect(indexes()).toEqual([50n]);
  });

  it('should send the wait with every request: 55 s by default, lowered to Nomad’s 300 s cap', async () => {
    const requests: BlockingRequest[] = [];
    const fetch: BlockingFetch<string> = async (request) => {
      requests.push(request);
      return { index: 1n, value: '' };
    };
    for (const waitMs of [undefined, 1_000, 600_000]) {
      const watch = watchBlockingQuery({ fetch, waitMs, minIntervalMs: 0, signal: testSignal().signal });
      for await (const _update of watch) break;
    }
    expect(requests.map((r) => r.waitMs)).toEqual([DEFAULT_WATCH_WAIT_MS, 1_000, 300_000]);
    expect(DEFAULT_WATCH_WAIT_MS).toBe(55_000);
  });

  it('should refuse a wait of 0 (Nomad would read it as 300 s), a negative interval, a burst below 1 and a negative start index', () => {
    const fetch: BlockingFetch<string> = async () => ({ index: 1n, value: '' });
    const signal = testSignal().signal;
    expect(() => watchBlockingQuery({ fetch, waitMs: 0, signal })).toThrow(RangeError);
    expect(() => watchBlockingQuery({ fetch, minIntervalMs: -1, signal })).toThrow(RangeError);
    expect(() => watchBlockingQuery({ fetch, burst: 0, signal })).toThrow(RangeError);
    expect(() => watchBlockingQuery({ fetch, burst: 1.5, signal })).toThrow(RangeError);
    expect(() => watchBlockingQuery({ fetch, startIndex: -1n, signal })).toThrow(RangeError);
  });

  it('should yield an answer whose index did not move (a blocking query that timed out), and block on the same index again', async () => {
    const { iterator, indexes } = start([value(7n, 'first'), value(7n, 'current data after the timeout')]);
    expect(await take(iterator, 2)).toEqual([
      { kind: 'value', index: 7n, value: 'first' },
      { kind: 'value', index: 7n, value: 'current data after the timeout' },
    ]);
    const pending = iterator.next();
    await vi.waitFor(() => expect(indexes()).toEqual([0n, 7n, 7n]));
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('should yield a reset and then the value when the index goes backwards, and block on the new, lower index', async () => {
    const { iterator, indexes } = start([value(900n), value(12n), value(13n)]);
    expect(await take(iterator, 4)).toEqual([
      { kind: 'value', index: 900n, value: 'v900' },
      { kind: 'reset', from: 900n, to: 12n },
      { kind: 'value', index: 12n, value: 'v12' },
      { kind: 'value', index: 13n, value: 'v13' },
    ]);
    expect(indexes()).toEqual([0n, 900n, 12n]);
  });

  it('should yield a reset when the first answer is below startIndex (an index from another cluster)', async () => {
    const { iterator } = start([value(3n)], { startIndex: 50n });
    expect(await take(iterator, 2)).toEqual([
      { kind: 'reset', from: 50n, to: 3n },
      { kind: 'value', index: 3n, value: 'v3' },
    ]);
  });

  it('should ask for index 1 after an answer with index 0, so an empty table blocks instead of spinning', async () => {
    const { iterator, indexes } = start([value(0n), value(0n), value(4n)]);
    expect((await take(iterator, 3)).map((u) => (u.kind === 'value' ? u.index : u.kind))).toEqual([0n, 0n, 4n]);
    expect(indexes()).toEqual([0n, 1n, 1n]);
  });

  it('should yield one error per failure, back off by attempt, and retry with a plain read that answers at once', async () => {
    const refused = new Error('ECONNREFUSED');
    const reset = new Error('ECONNRESET');
    const attempts: number[] = [];
    const { iterator, indexes, waits } = start([value(7n), { error: reset }, { error: refused }, value(7n), value(8n)], {
      backoff: (attempt) => {
        attempts.push(attempt);
        return attempt * 100;
      },
    });
    expect(await take(iterator, 5)).toEqual([
      { kind: 'value', index: 7n, value: 'v7' },
      { kind: 'error', error: reset, attempt: 1 },
      { kind: 'error', error: refused, attempt: 2 },
      { kind: 'value', index: 7n, value: 'v7' },
      { kind: 'value', index: 8n, value: 'v8' },
    ]);
    expect(attempts).toEqual([1, 2]);
    expect(waits).toEqual([100, 200]);
    // The blocking request failed; the retries read at once; then blocking resumes from the answer.
    expect(indexes()).toEqual([0n, 7n, 0n, 0n, 7n]);
  });

  it('should count attempts from 1 again after a success', async () => {
    const failure = (): Step => ({ error: new Error('boom') });
    const { iterator } = start([failure(), failure(), value(5n), failure(), value(6n)]);
    const updates = await take(iterator, 5);
    expect(updates.map((u) => (u.kind === 'error' ? u.attempt : u.kind))).toEqual([1, 2, 'value', 1, 'value']);
  });

  it('should detect a lower index on the plain read after a failure as a reset', async () => {
    const { iterator } = start([value(900n), { error: new Error('cluster restarting') }, value(4n)]);
    const updates = await take(iterator, 4);
    expect(updates.slice(2)).toEqual([
      { kind: 'reset', from: 900n, to: 4n },
      { kind: 'value', index: 4n, value: 'v4' },
    ]);
  });

  it('should report a negative index from fetch as an error instead of sending it', async () => {
    const { iterator, indexes } = start([value(-1n), value(3n)]);
    const [bad, good] = await take(iterator, 2);
    expect(bad?.kind).toBe('error');
    expect(good).toEqual({ kind: 'value', index: 3n, value: 'v3' });
    expect(indexes()).toEqual([0n, 0n]);
  });

  /** A watch whose every request answers at once with the next index, and whose pacing waits are released by hand. */
  function pacedWatch(options: { minIntervalMs: number; burst?: number }) {
    const log: string[] = [];
    const windows: { resolve: () => void }[] = [];
    const watch = watchBlockingQuery({
      fetch: async ({ index }) => {
        log.push(`fetch ${index}`);
        return { index: index + 1n, value: '' };
      },
      delay: (ms) => {
        log.push(`delay ${ms}`);
        const wait = deferred();
        windows.push(wait);
        return wait.promise;
      },
      ...options,
      signal: testSignal().signal,
    });
    return { log, windows, iterator: watch[Symbol.asyncIterator]() };
  }

  it('should start no two requests closer together than minIntervalMs with a burst of 1, counting from the start of the previous one', async () => {
    const { log, windows, iterator } = pacedWatch({ minIntervalMs: 250, burst: 1 });
    await take(iterator, 1);
    // The interval started with the first request, before its answer.
    expect(log).toEqual(['delay 250', 'fetch 0']);
    const second = iterator.next();
    await vi.waitFor(() => expect(windows).toHaveLength(1));
    expect(log).toEqual(['delay 250', 'fetch 0']);
    windows[0]?.resolve();
    await second;
    expect(log).toEqual(['delay 250', 'fetch 0', 'delay 250', 'fetch 1']);
  });

  it('should let a burst of requests start back to back, then hold the next until the first one\'s window (burst × minIntervalMs) closed', async () => {
    const { log, windows, iterator } = pacedWatch({ minIntervalMs: 100, burst: 3 });
    await take(iterator, 3);
    expect(log).toEqual(['delay 300', 'fetch 0', 'delay 300', 'fetch 1', 'delay 300', 'fetch 2']);
    const fourth = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toHaveLength(6); // held: three requests started within the window
    windows[0]?.resolve();
    await fourth;
    expect(log.slice(6)).toEqual(['delay 300', 'fetch 3']);
    // The second window still holds the fifth request; its closing releases it.
    const fifth = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toHaveLength(8);
    windows[1]?.resolve();
    await fifth;
    expect(log.slice(8)).toEqual(['delay 300', 'fetch 4']);
  });

  it('should pace by default with a burst of 4 over 250 ms intervals', async () => {
    const { log, iterator } = pacedWatch({ minIntervalMs: DEFAULT_MIN_INTERVAL_MS });
    await take(iterator, 4);
    expect(log.filter((line) => line.startsWith('fetch'))).toHaveLength(DEFAULT_BURST);
    expect(log[0]).toBe(`delay ${DEFAULT_BURST * DEFAULT_MIN_INTERVAL_MS}`);
    void iterator.next(); // held until the first window closes, a second from now; the test's signal ends it
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log.filter((line) => line.startsWith('fetch'))).toHaveLength(4);
  });

  it('should abort the request in flight and end the iteration when the signal aborts', async () => {
    const { iterator, requests, controller } = start([value(7n)]);
    await take(iterator, 1);
    const pending = iterator.next();
    await vi.waitFor(() => expect(requests).toHaveLength(2));
    expect(requests[1]?.signal.aborted).toBe(false);
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(requests[1]?.signal.aborted).toBe(true);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('should abort the request in flight when the consumer calls return() while a next() is pending', async () => {
    const { iterator, requests, controller } = start([value(7n)]);
    await take(iterator, 1);
    const pending = iterator.next();
    await vi.waitFor(() => expect(requests).toHaveLength(2));
    // A bare async generator would queue this return() behind the hanging request, forever.
    expect(await iterator.return?.()).toEqual({ done: true, value: undefined });
    expect(requests[1]?.signal.aborted).toBe(true);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(controller.signal.aborted).toBe(false);
  });

  it('should end when the consumer breaks out of for await, leaving nothing attached to its signal', async () => {
    const { fetch, requests } = scripted([value(1n), value(2n), value(3n)]);
    const seen: bigint[] = [];
    for await (const update of watchBlockingQuery({ fetch, minIntervalMs: 0, signal: testSignal().signal })) {
      if (update.kind === 'value') seen.push(update.index);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([1n, 2n]);
    expect(requests).toHaveLength(2);
    expect(requests.every((r) => r.signal.aborted)).toBe(true);
  });

  it('should drop an answer that arrives after the abort', async () => {
    const controller = testSignal();
    const answer = deferred();
    const watch = watchBlockingQuery({
      fetch: async () => {
        await answer.promise;
        return { index: 5n, value: 'too late' };
      },
      minIntervalMs: 0,
      signal: controller.signal,
    });
    const iterator = watch[Symbol.asyncIterator]();
    const pending = iterator.next();
    controller.abort();
    answer.resolve();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('should make no request before the first next(), and none at all when the signal is already aborted', async () => {
    const { fetch, requests } = scripted([value(1n)]);
    const controller = testSignal();
    const watch = watchBlockingQuery({ fetch, signal: controller.signal });
    const iterator = watch[Symbol.asyncIterator]();
    expect(requests).toHaveLength(0);
    controller.abort();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(requests).toHaveLength(0);
  });

  it('should run an independent loop for every iteration of the same watch', async () => {
    const { fetch, indexes } = scripted([value(4n), value(9n)]);
    const watch = watchBlockingQuery({ fetch, minIntervalMs: 0, signal: testSignal().signal });
    const a = watch[Symbol.asyncIterator]();
    const b = watch[Symbol.asyncIterator]();
    expect(await take(a, 1)).toEqual([{ kind: 'value', index: 4n, value: 'v4' }]);
    expect(await take(b, 1)).toEqual([{ kind: 'value', index: 9n, value: 'v9' }]);
    expect(indexes()).toEqual([0n, 0n]);
    await a.return?.();
    await b.return?.();
  });

  it('should end during a backoff wait when the signal aborts, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const controller = testSignal();
    const watch = watchBlockingQuery({
      fetch: async () => {
        throw new Error('unreachable');
      },
      backoff: () => 60_000,
      signal: controller.signal,
    });
    const iterator = watch[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ kind: 'error', attempt: 1 });
    const pending = iterator.next();
    // The 60 s backoff and the 250 ms pacing interval are both armed.
    await vi.waitFor(() => expect(vi.getTimerCount()).toBe(2));
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should end with the error of a backoff function that throws, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const bug = new TypeError('backoff bug');
    const watch = watchBlockingQuery({
      fetch: async () => {
        throw new Error('unreachable');
      },
      backoff: () => {
        throw bug;
      },
      signal: testSignal().signal,
    });
    const iterator = watch[Symbol.asyncIterator]();
    await iterator.next();
    expect(vi.getTimerCount()).toBe(1);
    await expect(iterator.next()).rejects.toBe(bug);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should use real timers by default, retrying after the backoff has elapsed', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const watch = watchBlockingQuery({
      fetch: async () => {
        calls += 1;
        if (calls === 1) throw new Error('once');
        return { index: 3n, value: 'ok' };
      },
      backoff: () => 1_000,
      minIntervalMs: 0,
      signal: testSignal().signal,
    });
    const iterator = watch[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual({ done: false, value: { kind: 'value', index: 3n, value: 'ok' } });
    await iterator.return?.();
  });
});

describe('abortableDelay', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should resolve after the given time and clear its timer', async () => {
    vi.useFakeTimers();
    let done = false;
    const wait = abortableDelay(500, new AbortController().signal).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await wait;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should resolve as soon as the signal aborts, and at once for a signal already aborted, leaving no timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const wait = abortableDelay(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await wait;
    expect(vi.getTimerCount()).toBe(0);
    await abortableDelay(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(0);
  });
});
