/**
 * The graceful shutdown of a replica: what happens between SIGTERM (or SIGINT) and the exit. The
 * composition root hands over the parts' stop hooks as steps, in the order they must run; this
 * runs them one after the other, bounded as a whole, and decides the exit code. It knows nothing
 * of HTTP, Redis or Nomad, so its timing is tested without them (`test/unit/server/shutdown.test.ts`).
 */

/** One thing to do on the way out, e.g. "release watch leases". */
export interface ShutdownStep {
  /** What the step does, for the log. */
  name: string;
  /** Runs the step. The next one starts once it settles; a failure is logged and the next runs anyway. */
  run(): Promise<void> | void;
}

/** Time, as the shutdown uses it: the production clock, or a test's. */
export interface ShutdownClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds, for durations in the log. */
  now(): number;
}

/** Where the shutdown says what it does (pino's methods fit). */
export interface ShutdownLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ShutdownOptions {
  /** Run in order on the first signal. */
  steps: readonly ShutdownStep[];
  /**
   * How long the steps may take together. At this bound the process exits anyway: what remains
   * (a request that is still waiting for Nomad, a socket that never acknowledged its close) is
   * cut by the exit itself. The exit code is still {@link EXIT_CODE_SHUT_DOWN}.
   */
  timeoutMs: number;
  logger: ShutdownLogger;
  /** Ends the process: `process.exit` in production. Called exactly once. */
  exit(code: number): void;
  /** @default the real clock (setTimeout, performance.now) */
  clock?: ShutdownClock;
}

/** The exit code after a shutdown, whether every step finished or the bound cut it short. */
export const EXIT_CODE_SHUT_DOWN = 0;
/**
 * The exit code when a second SIGTERM or SIGINT arrives during the shutdown: the process exits at
 * once, without waiting for the steps (128 + SIGINT, as a shell reports an interrupted command).
 */
export const EXIT_CODE_INTERRUPTED = 130;

export interface Shutdown {
  /**
   * The handler of SIGTERM and SIGINT. The first call starts the steps; a call while they run
   * exits at once with {@link EXIT_CODE_INTERRUPTED}.
   */
  signal(name: string): void;
  /** Settles once `exit` was called, with its code and whether the bound was reached. For tests. */
  readonly exited: Promise<{ code: number; timedOut: boolean }>;
}

const realClock: ShutdownClock = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => performance.now(),
};

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Creates the shutdown; nothing happens until `signal` is called. */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const { steps, timeoutMs, logger } = options;
  const clock = options.clock ?? realClock;
  let started: number | undefined;
  let current: string | undefined;
  let settled = false;
  let timer: unknown;
  let resolveExited!: (outcome: { code: number; timedOut: boolean }) => void;
  const exited = new Promise<{ code: number; timedOut: boolean }>((resolve) => {
    resolveExited = resolve;
  });

  const finish = (code: number, timedOut: boolean): void => {
    if (settled) return;
    settled = true;
    clock.clearTimeout(timer);
    resolveExited({ code, timedOut });
    options.exit(code);
  };

  const run = async (): Promise<void> => {
    for (const step of steps) {
      if (settled) return;
      current = step.name;
      const stepStarted = clock.now();
      try {
        await step.run();
      } catch (error) {
        logger.error(`shutdown: ${step.name} failed: ${describe(error)}`);
      }
      if (settled) return;
      logger.info(`shutdown: ${step.name} (${Math.round(clock.now() - stepStarted)} ms)`);
    }
    current = undefined;
    logger.info(`shutdown: done in ${Math.round(clock.now() - (started ?? 0))} ms`);
    finish(EXIT_CODE_SHUT_DOWN, false);
  };

  return {
    exited,
    signal: (name) => {
      if (settled) return;
      if (started !== undefined) {
        logger.warn(`${name} during the shutdown (at: ${current ?? 'exit'}): exiting at once`);
        finish(EXIT_CODE_INTERRUPTED, false);
        return;
      }
      started = clock.now();
      logger.info(`${name}: shutting down (at most ${timeoutMs} ms; send it again to exit at once)`);
      timer = clock.setTimeout(() => {
        logger.warn(`shutdown: not done after ${timeoutMs} ms (at: ${current ?? 'exit'}): exiting, which cuts what remains`);
        finish(EXIT_CODE_SHUT_DOWN, true);
      }, timeoutMs);
      void run();
    },
  };
}
