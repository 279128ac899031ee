import { describe, expect, it } from 'vitest';
import { createShutdown, EXIT_CODE_INTERRUPTED, EXIT_CODE_SHUT_DOWN, type ShutdownClock, type ShutdownStep } from '../../../src/server/shutdown.ts';
import { deferred } from '../../helpers/async-queue.ts';

/** A clock whose time moves only when the test says so. */
function manualClock(): ShutdownClock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      nextId += 1;
      timers.set(nextId, { at: now + ms, callback });
      return nextId;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    advance: (ms) => {
      now += ms;
      for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > now) continue;
        timers.delete(id);
        timer.callback();
      }
    },
    pending: () => timers.size,
  };
}

function recordingLogger(): { lines: string[]; info(m: string): void; warn(m: string): void; error(m: string): void } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

function setUp(steps: ShutdownStep[], timeoutMs = 1_000) {
  const clock = manualClock();
  const logger = recordingLogger();
  const exits: number[] = [];
  const shutdown = createShutdown({ steps, timeoutMs, logger, clock, exit: (code) => exits.push(code) });
  return { clock, logger, exits, shutdown };
}

describe('createShutdown', () => {
  it('should run the steps one after the other, in order, then exit 0 and clear its bound', async () => {
    const order: string[] = [];
    const first = deferred();
    const { shutdown, exits, clock, logger } = setUp([
      { name: 'first', run: () => first.promise.then(() => void order.push('first')) },
      { name: 'second', run: () => void order.push('second') },
    ]);
    shutdown.signal('SIGTERM');
    await Promise.resolve();
    expect(order).toEqual([]); // the second waits for the first
    first.resolve();
    expect(await shutdown.exited).toEqual({ code: EXIT_CODE_SHUT_DOWN, timedOut: false });
    expect(order).toEqual(['first', 'second']);
    expect(exits).toEqual([0]);
    expect(clock.pending()).toBe(0);
    expect(logger.lines[0]).toMatch(/^info SIGTERM: shutting down \(at most 1000 ms/);
  });

  it('should log a step that fails and run the next ones anyway', async () => {
    const ran: string[] = [];
    const { shutdown, logger } = setUp([
      { name: 'release leases', run: () => Promise.reject(new Error('Redis is gone')) },
      { name: 'close', run: () => void ran.push('close') },
    ]);
    shutdown.signal('SIGTERM');
    expect((await shutdown.exited).code).toBe(0);
    expect(ran).toEqual(['close']);
    expect(logger.lines).toContain('error shutdown: release leases failed: Error: Redis is gone');
  });

  it('should exit 0 at the bound when a step never finishes, and run no later step', async () => {
    const ran: string[] = [];
    const { shutdown, exits, clock, logger } = setUp(
      [
        { name: 'finish requests in flight', run: () => new Promise<void>(() => undefined) },
        { name: 'close', run: () => void ran.push('close') },
      ],
      2_500,
    );
    shutdown.signal('SIGTERM');
    clock.advance(2_499);
    expect(exits).toEqual([]);
    clock.advance(1);
    expect(await shutdown.exited).toEqual({ code: 0, timedOut: true });
    expect(exits).toEqual([0]);
    expect(ran).toEqual([]);
    expect(logger.lines).toContain('warn shutdown: not done after 2500 ms (at: finish requests in flight): exiting, which cuts what remains');
  });

  it('should exit at once with 130 on a second signal, and only once', async () => {
    const stuck = deferred();
    const ran: string[] = [];
    const { shutdown, exits, clock } = setUp([
      { name: 'end exec sessions', run: () => stuck.promise },
      { name: 'close', run: () => void ran.push('close') },
    ]);
    shutdown.signal('SIGTERM');
    shutdown.signal('SIGINT');
    expect(await shutdown.exited).toEqual({ code: EXIT_CODE_INTERRUPTED, timedOut: false });
    stuck.resolve();
    clock.advance(10_000);
    shutdown.signal('SIGTERM');
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([130]);
    expect(ran).toEqual([]);
  });
});
