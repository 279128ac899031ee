/**
 * The simulated cluster's pending work: steps that run after a delay (the scheduler's plans,
 * clients' task transitions), tracked so tests can wait for them (`idle`), freeze them
 * (`hold`), and so `dispose` can cancel them all.
 */
export class StepQueue {
  readonly #timers = new Set<NodeJS.Timeout>();
  #idleWaiters: (() => void)[] = [];
  /** Steps scheduled while held, waiting for the release. */
  #held: (() => void)[] | undefined;
  #disposed = false;

  /** Runs `step` after `ms`; nothing once disposed. */
  later(ms: number, step: () => void): void {
    if (this.#disposed) return;
    if (this.#held !== undefined) {
      this.#held.push(() => this.later(ms, step));
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      step();
      this.#notifyIdle();
    }, ms);
    this.#timers.add(timer);
  }

  /** Holds every step scheduled from now until the returned release is called. */
  hold(): () => void {
    this.#held ??= [];
    return () => {
      const queued = this.#held ?? [];
      this.#held = undefined;
      for (const schedule of queued) schedule();
      this.#notifyIdle();
    };
  }

  /** Resolves once no step is pending (held steps count as pending). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Cancels every pending step and refuses new ones. */
  dispose(): void {
    this.#disposed = true;
    this.#held = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#notifyIdle();
  }

  #isIdle(): boolean {
    return this.#timers.size === 0 && (this.#held === undefined || this.#held.length === 0);
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
