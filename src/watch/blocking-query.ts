/**
 * The blocking-query loop: the middle layer of a watcher (`fetch` does one request, this module
 * decides which request comes next, `diff.ts` turns answers into changes). It knows nothing of
 * HTTP, allocations or GraphQL: `fetch` is any function that honours Nomad's blocking-query
 * contract (nomad-api.md §2), and time is injected (`delay`, `backoff`) so tests need no sleeps.
 *
 * The protocol, one request at a time, pulled by the consumer:
 *
 * 1. The first request asks for `startIndex` (default 0: a plain read that answers at once).
 * 2. Every answer is yielded as a `value`, and the next request blocks on the index it carried.
 * 3. An answer with an index below the last one yields a `reset` first (see below).
 * 4. An answer with index 0 (a table never written) makes the next request ask for index 1.
 * 5. A failure yields one `error`, waits `backoff(attempt)`, then retries with a plain read.
 * 6. Requests are paced: at most `burst` of them start within any `burst × minIntervalMs`, so
 *    after a quiet spell the next few go at once, and a long run of writes costs one request
 *    per `minIntervalMs` on average.
 * 7. Aborting `signal`, or the consumer leaving (`break`, `return()`), aborts the request in
 *    flight and any wait, and ends the iteration.
 */
import { MAX_BLOCKING_WAIT_MS } from '../nomad/http.ts';
import { nextDelay } from './backoff.ts';

/**
 * What the loop yields.
 *
 * - `value`: an answer and the `X-Nomad-Index` it came with. Every answer is yielded, also one
 *   whose index did not move (Nomad's `wait` ran out): that answer still carries current data,
 *   and the index is not a complete account of what the data depends on (an ACL policy change
 *   alters what a list returns without writing to the allocs table). Consumers that diff by
 *   `ModifyIndex` (`diff.ts`) find nothing new in it; others may skip a `value` whose index
 *   equals the previous one. It also proves the watch is alive once per `waitMs`.
 * - `error`: one failed request (`attempt` counts consecutive failures from 1). The loop retries
 *   on its own, forever; a consumer that considers an error final (say a 403, or a 400 for a bad
 *   filter) ends the iteration itself.
 * - `reset`: the index went backwards, from `from` (the last index seen, or `startIndex`) to `to`.
 *   It is always followed by the `value` at `to`, which the consumer must treat as a full resync
 *   (`diff.ts` with `{ resync: true }`), not as an increment.
 */
export type WatchUpdate<T> =
  | { kind: 'value'; index: bigint; value: T }
  | { kind: 'error'; error: unknown; attempt: number }
  | { kind: 'reset'; from: bigint; to: bigint };

/** One request the loop asks `fetch` to make. */
export interface BlockingRequest {
  /** Nomad's `?index=`: 0 means answer at once, anything else blocks until the index passes it. */
  index: bigint;
  /** Nomad's `?wait=`, in milliseconds (Nomad ignores it when `index` is 0). */
  waitMs: number;
  /** Aborted when the watch ends; the request must then settle promptly. */
  signal: AbortSignal;
}

/** An answer: the data and the index it is current at (`X-Nomad-Index`). */
export interface BlockingResult<T> {
  index: bigint;
  value: T;
}

/** Makes one (possibly blocking) request. Rejections become `error` updates. */
export type BlockingFetch<T> = (request: BlockingRequest) => Promise<BlockingResult<T>>;

/** Waits `ms`; settles early (resolving or rejecting, either is fine) once `signal` aborts. */
export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

/** Options of {@link watchBlockingQuery}. */
export interface WatchBlockingQueryOptions<T> {
  /** Makes one request; see {@link BlockingFetch}. */
  fetch: BlockingFetch<T>;
  /**
   * Index of the first request. 0 reads at once; a known index (e.g. handed over by another
   * replica) blocks until something newer exists, and an answer below it yields a `reset`.
   * @default 0n
   */
  startIndex?: bigint;
  /**
   * How long Nomad may hold each request, in ms. Nomad adds up to 1/16 of jitter, so the default
   * keeps 55 s × 17/16 ≈ 58.4 s under the 60 s idle timeout of common proxies and load balancers
   * (nginx `proxy_read_timeout`, AWS ALB), which would otherwise cut quiet watches as errors.
   * Values above Nomad's 300 s cap are lowered to it, as Nomad would do anyway.
   * @default 55000
   */
  waitMs?: number;
  /**
   * Average time between the starts of two requests over a long run of writes, in ms. While
   * Nomad is being written to, every blocking request returns at once; pacing turns such a run
   * into one request per interval (whose answer covers every write so far) instead of a tight
   * loop. It also spaces retries whose jittered backoff drew (nearly) 0. 0 disables pacing.
   * @default 250
   */
  minIntervalMs?: number;
  /**
   * How many requests may start back to back before pacing holds the next one: at most `burst`
   * start within any `burst × minIntervalMs`. A change seldom comes alone (Nomad writes a stop,
   * then the client's update, then the replacement's placement within a few hundred ms); with a
   * burst, a change that follows another closely is still fetched at once rather than up to
   * `minIntervalMs` later. 1 spaces every two requests by `minIntervalMs`.
   * @default 4
   */
  burst?: number;
  /** Timer used for pacing and backoff; injected by tests. @default {@link abortableDelay} */
  delay?: Delay;
  /**
   * Milliseconds to wait before retry number `attempt` (1, 2, …, reset by every success).
   * @default attempt => nextDelay(attempt) (full jitter, 250 ms base, 30 s cap)
   */
  backoff?: (attempt: number) => number;
  /** Ends the watch: aborts the request in flight and any wait, then the iteration finishes. */
  signal: AbortSignal;
}

/** Default `waitMs`: below common 60 s proxy idle timeouts, jitter included. */
export const DEFAULT_WATCH_WAIT_MS = 55_000;
/** Default `minIntervalMs`. */
export const DEFAULT_MIN_INTERVAL_MS = 250;
/** Default `burst`. */
export const DEFAULT_BURST = 4;

/**
 * The default {@link Delay}: a timer that resolves after `ms`, or as soon as `signal` aborts, and
 * leaves neither a timer nor a listener behind in either case.
 */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

interface LoopSettings<T> {
  fetch: BlockingFetch<T>;
  startIndex: bigint;
  waitMs: number;
  minIntervalMs: number;
  burst: number;
  delay: Delay;
  backoff: (attempt: number) => number;
  signal: AbortSignal;
}

function settings<T>(options: WatchBlockingQueryOptions<T>): LoopSettings<T> {
  const startIndex = options.startIndex ?? 0n;
  if (startIndex < 0n) throw new RangeError('startIndex must be ≥ 0');
  const waitMs = options.waitMs ?? DEFAULT_WATCH_WAIT_MS;
  // Nomad reads a wait of 0 (or less) as its 300 s default, which is never what a caller meant.
  if (!Number.isFinite(waitMs) || waitMs <= 0) throw new RangeError(`waitMs must be a finite number > 0, got ${waitMs}`);
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) {
    throw new RangeError(`minIntervalMs must be a finite number ≥ 0, got ${minIntervalMs}`);
  }
  const burst = options.burst ?? DEFAULT_BURST;
  if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be an integer ≥ 1, got ${burst}`);
  return {
    fetch: options.fetch,
    startIndex,
    waitMs: Math.min(waitMs, MAX_BLOCKING_WAIT_MS),
    minIntervalMs,
    burst,
    delay: options.delay ?? abortableDelay,
    backoff: options.backoff ?? ((attempt) => nextDelay(attempt)),
    signal: options.signal,
  };
}

/** Waits for a delay and ignores how it ended: an aborted wait is noticed through the signal. */
function settle(promise: Promise<void>): Promise<void> {
  return promise.then(
    () => undefined,
    () => undefined,
  );
}

/** A function, so TypeScript does not keep an earlier `aborted === false` narrowing. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

async function* loop<T>(config: LoopSettings<T>, stop: AbortController): AsyncGenerator<WatchUpdate<T>, void, undefined> {
  const outer = config.signal;
  if (outer.aborted) return;
  const onAbort = (): void => stop.abort(outer.reason);
  outer.addEventListener('abort', onAbort, { once: true });
  const { signal } = stop;
  /** The last index an answer carried (or `startIndex`): what a backwards move is measured from. */
  let known = config.startIndex;
  let requestIndex = config.startIndex;
  let failures = 0;
  /**
   * One window per recent request, started with it and lasting `burst × minIntervalMs`: a request
   * may start once fewer than `burst` windows are open. Started with the request, not after it,
   * so a request that blocked longer than its window is followed by the next one at once.
   */
  const windows: Promise<void>[] = [];
  const windowMs = config.minIntervalMs * config.burst;
  try {
    while (!isAborted(signal)) {
      if (windows.length >= config.burst) await windows.shift();
      if (isAborted(signal)) return;
      if (windowMs > 0) windows.push(settle(config.delay(windowMs, signal)));
      let result: BlockingResult<T>;
      try {
        result = await config.fetch({ index: requestIndex, waitMs: config.waitMs, signal });
        if (result.index < 0n) throw new RangeError(`fetch returned a negative index (${result.index})`);
      } catch (error) {
        // Our own abort surfaces as a rejection of the request; it is the end, not a failure.
        if (isAborted(signal)) return;
        failures += 1;
        yield { kind: 'error', error, attempt: failures };
        if (isAborted(signal)) return;
        await settle(config.delay(config.backoff(failures), signal));
        // Retry with a plain read rather than blocking on the old index. Outages are when a
        // cluster gets restored from a snapshot or rebuilt; blocking on an index the new cluster
        // has not reached would hold the request for the whole `wait` before revealing the lower
        // index. A plain read answers at once: with the changes made during the outage, or with
        // the lower index that triggers the reset. It costs one extra request per recovery.
        requestIndex = 0n;
        continue;
      }
      // An answer that raced the abort is dropped: the consumer asked for no more.
      if (isAborted(signal)) return;
      failures = 0;
      if (result.index < known) {
        // Raft indexes only grow within one cluster. A lower one means the cluster was restored
        // from a snapshot or rebuilt (or, with stale reads, a lagging server answered). Blocking on
        // our old index would then hang until Nomad catches up with it, possibly forever, and the
        // ModifyIndex values the consumer holds cannot be compared with the new ones. So we follow
        // the new index (as a Kubernetes informer re-lists on 410 Gone) and tell the consumer to
        // rebuild its state from the value that follows. We continue from the new index rather
        // than from 0: this answer already is a fresh full read, so a plain read would repeat it.
        yield { kind: 'reset', from: known, to: result.index };
        if (isAborted(signal)) return;
      }
      known = result.index;
      yield { kind: 'value', index: result.index, value: result.value };
      // Nomad reports index 0 for a table never written to, and `index=0` never blocks: asking
      // for it again would spin. Index 1 blocks until the first write.
      requestIndex = result.index === 0n ? 1n : result.index;
    }
  } finally {
    outer.removeEventListener('abort', onAbort);
    // Ends whatever still listens to the signal: the pacing timer, a request of a consumer that
    // stopped iterating.
    stop.abort();
  }
}

/**
 * Watches a Nomad blocking query: an `AsyncIterable` of {@link WatchUpdate}s, one request at a
 * time, each made only when the consumer asks for the next update. Nothing happens until the
 * first `next()`, and each iteration (`for await`, `[Symbol.asyncIterator]()`) runs its own loop.
 *
 * The iteration ends (without throwing) when `signal` aborts or the consumer calls `return()`
 * (`break` in `for await`). Unlike a bare async generator, whose `return()` waits behind a
 * pending `next()`, `return()` here first aborts the request in flight, so a subscription that is
 * cancelled while parked on a 55 s blocking query lets go of it at once.
 *
 * @throws RangeError (synchronously) for a negative `startIndex`, a `waitMs` ≤ 0 or a negative
 * `minIntervalMs`.
 */
export function watchBlockingQuery<T>(options: WatchBlockingQueryOptions<T>): AsyncIterable<WatchUpdate<T>> {
  const config = settings(options);
  return {
    [Symbol.asyncIterator](): AsyncIterator<WatchUpdate<T>> {
      const stop = new AbortController();
      const generator = loop(config, stop);
      return {
        next: () => generator.next(),
        return: () => {
          stop.abort();
          return generator.return(undefined);
        },
      };
    },
  };
}
