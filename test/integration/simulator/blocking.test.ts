import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

function indexOf(headers: Headers): bigint {
  return BigInt(headers.get('x-nomad-index') ?? 'NaN');
}

describe('simulator blocking queries', () => {
  const sim = useSimulator();

  beforeAll(async () => {
    // A cluster that never had an allocation reports index 0, and index=0 never blocks.
    sim().cluster.createJob({ id: 'seed' });
    await sim().cluster.idle();
  });

  it('should return at once without an index, and ignore wait then', async () => {
    const started = performance.now();
    const response = await send(sim().url, '/v1/allocations?wait=10s');
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('should not block on index 0, which a cluster without allocations reports', async () => {
    const response = await send(sim().url, '/v1/allocations?index=0&wait=60s');
    expect(response.status).toBe(200);
  });

  it('should hold a list query until an allocation changes, then return the new index', async () => {
    const first = await send(sim().url, '/v1/allocations');
    const index = indexOf(first.headers);
    const pending = send(sim().url, `/v1/allocations?index=${index}&wait=60s`);
    // The query must really be parked before we change anything.
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    const { allocations } = sim().cluster.createJob({ id: 'wake-list' });
    const woken = await pending;
    expect(indexOf(woken.headers)).toBeGreaterThan(index);
    expect(asArray(JSON.parse(woken.text)).map((a) => (a as { ID: string }).ID)).toContain(allocations[0]?.ID);
    expect(sim().blockingInFlight()).toBe(0);
  });

  it('should return the unchanged data and index when wait runs out', async () => {
    await sim().cluster.idle();
    const first = await send(sim().url, '/v1/allocations');
    const index = indexOf(first.headers);
    const started = performance.now();
    const timedOut = await send(sim().url, `/v1/allocations?index=${index}&wait=300ms`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(timedOut.status).toBe(200);
    expect(indexOf(timedOut.headers)).toBe(index);
    expect(timedOut.text).toBe(first.text);
  });

  it('should hold a query for an index above the current one until wait runs out, then report the lower index', async () => {
    await sim().cluster.idle();
    const current = sim().store.tableIndex.allocs;
    const response = await send(sim().url, `/v1/allocations?index=${current + 1000n}&wait=200ms`);
    expect(response.status).toBe(200);
    expect(indexOf(response.headers)).toBe(current);
  });

  it('should wake a read of one allocation only when that allocation changes', async () => {
    const { allocations } = sim().cluster.createJob({ id: 'wake-read' });
    await sim().cluster.idle();
    const id = allocations[0]?.ID ?? '';
    const first = await send(sim().url, `/v1/allocation/${id}`);
    const index = indexOf(first.headers);
    expect(index).toBe(sim().store.allocs.get(id)?.ModifyIndex);
    const pending = send(sim().url, `/v1/allocation/${id}?index=${index}&wait=60s`);
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.createJob({ id: 'unrelated' });
    await sim().cluster.idle();
    expect(sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(id, ['server'], 'SIGHUP');
    const woken = await pending;
    expect(indexOf(woken.headers)).toBeGreaterThan(index);
    expect(woken.text).toContain('"Type":"Signaling"');
  });

  it('should release a blocking query whose client goes away', async () => {
    const index = sim().store.tableIndex.allocs;
    const controller = new AbortController();
    const pending = fetch(`${sim().url}/v1/allocations?index=${index}&wait=60s`, { signal: controller.signal });
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => sim().blockingInFlight()).toBe(0);
    expect((await send(sim().url, '/v1/allocations')).status).toBe(200);
  });

  it('should reject a wait without a unit and a non-numeric index with Nomad\'s 400s', async () => {
    expect(await send(sim().url, '/v1/allocations?index=1&wait=10')).toMatchObject({ status: 400, text: 'Invalid wait time' });
    expect(await send(sim().url, '/v1/allocations?index=abc')).toMatchObject({ status: 400, text: 'Invalid index' });
    expect(await send(sim().url, '/v1/allocations?index=-1')).toMatchObject({ status: 400, text: 'Invalid index' });
  });
});
