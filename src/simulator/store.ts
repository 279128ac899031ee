import type { Allocation, Evaluation, Job, NomadNode, ServiceRegistration } from '../nomad/types.ts';

/** The memdb tables whose indexes the API reports. */
export type TableName = 'allocs' | 'jobs' | 'nodes' | 'evals' | 'services' | 'namespaces';

export interface Namespace {
  Name: string;
  Description: string;
  CreateIndex: bigint;
  ModifyIndex: bigint;
}

interface Waiter {
  ready: () => boolean;
  wake: () => void;
}

/**
 * The simulator's state store: Nomad's tables, one raft index that every write bumps, the index
 * of the last write to each table, and wake-ups for blocking queries. Writes go through
 * `commit`, which is the only place the index moves.
 */
export class Store {
  /** The last raft index. */
  index = 0n;
  readonly tableIndex: Record<TableName, bigint> = {
    allocs: 0n,
    jobs: 0n,
    nodes: 0n,
    evals: 0n,
    services: 0n,
    namespaces: 0n,
  };
  readonly namespaces = new Map<string, Namespace>();
  readonly nodes = new Map<string, NomadNode>();
  /** Keyed by `namespace\u0000jobID`. */
  readonly jobs = new Map<string, Job>();
  readonly evals = new Map<string, Evaluation>();
  readonly allocs = new Map<string, Allocation>();
  readonly services = new Map<string, ServiceRegistration>();
  readonly #waiters = new Set<Waiter>();

  /**
   * Applies one raft write: bumps the index, runs `apply` with it, records it as the last write
   * of each table in `tables`, and wakes the blocking queries it satisfies.
   */
  commit(tables: readonly TableName[], apply: (index: bigint) => void): bigint {
    const index = this.index + 1n;
    this.index = index;
    apply(index);
    for (const table of tables) this.tableIndex[table] = index;
    for (const waiter of this.#waiters) {
      if (waiter.ready()) waiter.wake();
    }
    return index;
  }

  /**
   * Resolves when `ready()` holds after some commit, when `timeoutMs` passes, or when `signal`
   * aborts; returns whether it became ready. Nothing is held after it settles.
   */
  waitUntil(ready: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (value: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        resolve(value);
      };
      const onAbort = (): void => settle(false);
      const waiter: Waiter = { ready, wake: () => settle(true) };
      const timer = setTimeout(() => settle(false), timeoutMs);
      this.#waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) settle(false);
    });
  }

  /** How many blocking queries are waiting right now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  job(namespace: string, id: string): Job | undefined {
    return this.jobs.get(jobKey(namespace, id));
  }
}

export function jobKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}
