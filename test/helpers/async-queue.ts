/** A promise with its settle functions, for "this callback happened". */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects with `what` in the message if `promise` has not settled within `timeoutMs`. */
export async function within<T>(timeoutMs: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Buffers every item pushed (use `push` as a callback) and hands them out in order:
 * `next()` shifts the oldest or waits for the next one (graphql-ws tclient.ts style).
 */
export interface AsyncQueue<T> {
  readonly push: (item: T) => void;
  next(timeoutMs?: number): Promise<T>;
  /** Items received and not taken yet. */
  readonly pending: readonly T[];
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  const waiters: Deferred<T>[] = [];
  return {
    push: (item) => {
      const waiter = waiters.shift();
      if (waiter === undefined) items.push(item);
      else waiter.resolve(item);
    },
    next: async (timeoutMs = 5_000) => {
      if (items.length > 0) return items.shift() as T;
      const waiter = deferred<T>();
      waiters.push(waiter);
      try {
        return await within(timeoutMs, 'the next item', waiter.promise);
      } finally {
        const index = waiters.indexOf(waiter);
        if (index >= 0) waiters.splice(index, 1);
      }
    },
    get pending() {
      return items;
    },
  };
}

/**
 * Polls `check` until it returns true, failing after `timeoutMs`. For conditions nothing signals
 * (a key expiring inside Redis); prefer a deferred or a queue when there is an event to wait for.
 */
export async function eventually(check: () => Promise<boolean>, what: string, { timeoutMs = 5_000, intervalMs = 10 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves on the next `event` of `emitter` (attach before causing it). */
export function nextEvent(emitter: { once(event: string, listener: () => void): unknown }, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}
