import { describe, expect, it, onTestFinished } from 'vitest';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { NomadUnavailableError } from '../../../src/nomad/errors.ts';
import type { AllocListStub } from '../../../src/nomad/types.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/server.ts';
import { allocationListFetch, allocationReadFetch, type AllocationListQuery } from '../../../src/watch/allocation-sources.ts';
import { nextDelay } from '../../../src/watch/backoff.ts';
import { watchBlockingQuery, type WatchUpdate } from '../../../src/watch/blocking-query.ts';
import { applyChanges, classify, diffAllocations } from '../../../src/watch/diff.ts';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';

/** Generous: these only bound a test that would otherwise hang; passing runs take milliseconds. */
const DEADLINE = { timeout: 5_000, interval: 5 };

async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 }, ...options });
  onTestFinished(() => sim.stop());
  return sim;
}

function client(address: string): NomadClient {
  const nomad = createNomadClient({ address, timeoutMs: 2_000 });
  onTestFinished(() => nomad.close());
  return nomad;
}

async function proxyTo(sim: Simulator): Promise<TcpProxy> {
  const proxy = await startTcpProxy(sim.port);
  onTestFinished(() => proxy.close());
  return proxy;
}

/** What a subscriber of `allocationChanges` would be sent for one answer. */
interface Changes {
  index: bigint;
  added: AllocListStub[];
  updated: AllocListStub[];
  removed: string[];
}

/**
 * A list watch the way the subscription layer consumes it: the loop over `allocationListFetch`,
 * folded through `diff.ts` into a snapshot. `next()` pulls until an answer, and keeps the errors
 * and resets it passed on the way.
 */
function watchList(
  nomad: NomadClient,
  query: AllocationListQuery,
  options: { backoff?: (attempt: number) => number } = {},
) {
  const controller = new AbortController();
  onTestFinished(() => controller.abort());
  const iterator = watchBlockingQuery({
    fetch: allocationListFetch(nomad, query),
    minIntervalMs: 5,
    backoff: options.backoff ?? ((attempt) => nextDelay(attempt, { baseMs: 20, capMs: 100 })),
    signal: controller.signal,
  })[Symbol.asyncIterator]();
  let snapshot = new Map<string, AllocListStub>();
  let resync = false;
  const errors: Extract<WatchUpdate<unknown>, { kind: 'error' }>[] = [];
  const resets: Extract<WatchUpdate<unknown>, { kind: 'reset' }>[] = [];

  /** Folds one update in; returns the changes when it was an answer. */
  function fold(update: WatchUpdate<AllocListStub[]>): Changes | undefined {
    if (update.kind === 'error') {
      errors.push(update);
      return undefined;
    }
    if (update.kind === 'reset') {
      resets.push(update);
      resync = true;
      return undefined;
    }
    const changes = diffAllocations(snapshot, update.value, { resync });
    const { added, updated } = classify(snapshot, changes.upserts, { resync });
    snapshot = applyChanges(snapshot, changes, { resync });
    resync = false;
    return { index: update.index, added, updated, removed: changes.removed };
  }

  return {
    controller,
    iterator,
    errors,
    resets,
    snapshot: () => snapshot,
    /** Pulls updates until the next answer. */
    async next(): Promise<Changes> {
      for (;;) {
        const result = await iterator.next();
        if (result.done === true) throw new Error('the watch ended');
        const changes = fold(result.value);
        if (changes !== undefined) return changes;
      }
    },
    /** Pulls exactly one update, which must be an error. */
    async nextError(): Promise<Extract<WatchUpdate<unknown>, { kind: 'error' }>> {
      const result = await iterator.next();
      if (result.done === true || result.value.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(result)}`);
      fold(result.value);
      return result.value;
    },
  };
}

const idsOf = (allocs: readonly { ID: string }[]): string[] => allocs.map((a) => a.ID).sort();

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing test data');
  return value;
}

describe('watching allocations with blocking queries against the simulator', () => {
  it('should report a new job’s allocations as added and a failed task as an update of exactly that allocation', async () => {
    const sim = await simulator();
    const web = sim.cluster.createJob({ id: 'web', count: 3 });
    await sim.cluster.idle();
    // Pages of 2, so every answer is assembled from a blocking first page and a plain second one.
    const watch = watchList(client(sim.url), { perPage: 2 });

    const initial = await watch.next();
    expect(idsOf(initial.added)).toEqual(idsOf(web.allocations));
    expect(initial.index).toBe(sim.store.tableIndex.allocs);

    // Park the blocking query first, so the change is what wakes it; hold the scheduler and the
    // clients so the change is the only write.
    const parked = watch.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    const release = sim.cluster.hold();
    onTestFinished(release);
    const api = sim.cluster.createJob({ id: 'api', count: 2 });
    const placed = await parked;
    expect(idsOf(placed.added)).toEqual(idsOf(api.allocations));
    expect(placed.updated).toEqual([]);
    expect(placed.removed).toEqual([]);

    const target = must(web.allocations[1]);
    const next = watch.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    sim.cluster.failTask(target.ID, 'server');
    const failed = await next;
    expect(failed.added).toEqual([]);
    expect(failed.removed).toEqual([]);
    expect(failed.updated.map((a) => [a.ID, a.ClientStatus, a.ModifyIndex])).toEqual([
      [target.ID, 'failed', sim.store.allocs.get(target.ID)?.ModifyIndex],
    ]);
    expect(failed.index).toBe(sim.store.tableIndex.allocs);
    expect(watch.snapshot().size).toBe(5);
  });

  it('should only see the allocations its filter and prefix select', async () => {
    const sim = await simulator();
    const web = sim.cluster.createJob({ id: 'web', count: 4 });
    sim.cluster.createJob({ id: 'db', count: 2 });
    await sim.cluster.idle();
    const target = must(web.allocations[0]);
    const watch = watchList(client(sim.url), { filter: 'JobID == "web"', prefix: target.ID.slice(0, 2), perPage: 1 });
    const expected = web.allocations.filter((a) => a.ID.startsWith(target.ID.slice(0, 2)));
    expect(idsOf((await watch.next()).added)).toEqual(idsOf(expected));

    const release = sim.cluster.hold();
    onTestFinished(release);
    const next = watch.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    sim.cluster.failTask(target.ID, 'server');
    expect(idsOf((await next).updated)).toEqual([target.ID]);
  });

  it('should follow one allocation through a change, and answer null for an id Nomad does not have', async () => {
    const sim = await simulator();
    const { allocations } = sim.cluster.createJob({ id: 'web' });
    await sim.cluster.idle();
    const target = must(allocations[0]);
    const nomad = client(sim.url);
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const updates = watchBlockingQuery({
      fetch: allocationReadFetch(nomad, target.ID),
      minIntervalMs: 5,
      signal: controller.signal,
    })[Symbol.asyncIterator]();

    const first = await updates.next();
    expect(first.value).toMatchObject({ kind: 'value', index: sim.store.allocs.get(target.ID)?.ModifyIndex, value: { ID: target.ID, ClientStatus: 'running' } });
    const next = updates.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    // A write to another allocation must not wake a watch on this one.
    sim.cluster.createJob({ id: 'other' });
    await sim.cluster.idle();
    expect(sim.blockingInFlight()).toBe(1);
    // Hold the rescheduling that follows the failure, so the indexes below stay put.
    const release = sim.cluster.hold();
    onTestFinished(release);
    sim.cluster.failTask(target.ID, 'server');
    expect((await next).value).toMatchObject({
      kind: 'value',
      index: sim.store.allocs.get(target.ID)?.ModifyIndex,
      value: { ID: target.ID, ClientStatus: 'failed' },
    });

    const missing = watchBlockingQuery({
      fetch: allocationReadFetch(nomad, '00000000-0000-0000-0000-000000000000'),
      signal: controller.signal,
    })[Symbol.asyncIterator]();
    expect((await missing.next()).value).toEqual({ kind: 'value', index: sim.store.tableIndex.allocs, value: null });
    await missing.return?.();
  });

  it('should end the parked blocking query on the simulator when the signal aborts', async () => {
    const sim = await simulator();
    sim.cluster.createJob({ id: 'web' });
    await sim.cluster.idle();
    const watch = watchList(client(sim.url), {});
    await watch.next();
    const parked = watch.iterator.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    watch.controller.abort();
    expect(await parked).toEqual({ done: true, value: undefined });
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(0);
  });

  it('should end the parked blocking query on the simulator when the consumer stops iterating', async () => {
    const sim = await simulator();
    sim.cluster.createJob({ id: 'web' });
    await sim.cluster.idle();
    const watch = watchList(client(sim.url), {});
    await watch.next();
    const parked = watch.iterator.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    expect(await watch.iterator.return?.()).toEqual({ done: true, value: undefined });
    expect(await parked).toEqual({ done: true, value: undefined });
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(0);
  });

  it('should report errors with growing attempts while Nomad is away, then recover and deliver the change made meanwhile', async () => {
    const sim = await simulator();
    const { allocations } = sim.cluster.createJob({ id: 'web', count: 2 });
    await sim.cluster.idle();
    const proxy = await proxyTo(sim);
    const backoffs: number[] = [];
    const watch = watchList(client(proxy.url), {}, {
      backoff: (attempt) => {
        backoffs.push(attempt);
        return nextDelay(attempt, { baseMs: 20, capMs: 100 });
      },
    });
    expect(idsOf((await watch.next()).added)).toEqual(idsOf(allocations));

    const parked = watch.nextError();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    await proxy.cut();
    // The parked query breaks (connection reset), then every retry is refused.
    const errors = [await parked, await watch.nextError(), await watch.nextError()];
    expect(errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    for (const { error } of errors) expect(error).toBeInstanceOf(NomadUnavailableError);
    expect(backoffs).toEqual([1, 2]);
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(0);

    const target = must(allocations[0]);
    const release = sim.cluster.hold();
    onTestFinished(release);
    sim.cluster.failTask(target.ID, 'server');
    await proxy.restore();

    const recovered = await watch.next();
    expect(backoffs).toEqual([1, 2, 3]);
    expect(recovered.added).toEqual([]);
    expect(recovered.removed).toEqual([]);
    expect(recovered.updated.map((a) => [a.ID, a.ClientStatus])).toEqual([[target.ID, 'failed']]);
    expect(watch.resets).toEqual([]);

    // Back to blocking: the next request parks again on the simulator.
    const parkedAgain = watch.iterator.next();
    await expect.poll(() => sim.blockingInFlight(), DEADLINE).toBe(1);
    watch.controller.abort();
    await parkedAgain;
  });

  it('should yield a reset when the address answers for a rebuilt cluster with a lower index, and resynchronise from it', async () => {
    const before = await simulator({ seed: 1 });
    const old = [before.cluster.createJob({ id: 'web', count: 2 }), before.cluster.createJob({ id: 'db', count: 2 })];
    await before.cluster.idle();
    const rebuilt = await simulator({ seed: 2 });
    rebuilt.cluster.hold();
    const fresh = rebuilt.cluster.createJob({ id: 'web', count: 1 });
    expect(rebuilt.store.tableIndex.allocs).toBeLessThan(before.store.tableIndex.allocs);

    const proxy = await proxyTo(before);
    const watch = watchList(client(proxy.url), {});
    expect((await watch.next()).added).toHaveLength(4);
    const parked = watch.next();
    await expect.poll(() => before.blockingInFlight(), DEADLINE).toBe(1);
    proxy.retarget(rebuilt.port);

    const resynced = await parked;
    expect(watch.errors.map((e) => e.attempt)).toEqual([1]);
    expect(watch.resets).toEqual([{ kind: 'reset', from: before.store.tableIndex.allocs, to: rebuilt.store.tableIndex.allocs }]);
    expect(idsOf(resynced.added)).toEqual(idsOf(fresh.allocations));
    expect(resynced.removed).toEqual(idsOf(old.flatMap((job) => job.allocations)));
    expect([...watch.snapshot().keys()]).toEqual(idsOf(fresh.allocations));

    // It blocks on the rebuilt cluster's index, not the old, higher one.
    const next = watch.iterator.next();
    await expect.poll(() => rebuilt.blockingInFlight(), DEADLINE).toBe(1);
    watch.controller.abort();
    await next;
  });
});
