import { beforeAll, describe, expect, it } from 'vitest';
import { useGatewayStack } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/**
 * How numbers travel in a response: counters and versions that fit in 32 bits are GraphQL `Int`
 * (JSON numbers); raft indexes are `Uint64`, strings of digits, since they can pass 2^53. Values
 * are compared with the simulator's store.
 */

const QUERY = /* GraphQL */ `
  query Numbers($id: ID!) {
    allocation(id: $id) {
      jobVersion
      createIndex
      modifyIndex
      allocModifyIndex
      taskStates { name restarts events { type diskLimit } }
      job { version createIndex modifyIndex jobModifyIndex }
    }
  }
`;

const DIGITS = /^(0|[1-9][0-9]*)$/;

describe('number scalars in responses', () => {
  const stack = useGatewayStack();
  let allocId = '';

  beforeAll(async () => {
    const { sim } = stack();
    const { allocations } = sim.cluster.createJob({ id: 'counted', groups: [{ name: 'g', count: 1, tasks: [{ name: 'web' }, { name: 'sidecar' }] }] });
    await sim.cluster.idle();
    allocId = allocations[0]?.ID ?? '';
    // Two restarts of one task, so its counter is neither a default nor the other task's.
    for (let i = 0; i < 2; i++) {
      sim.cluster.restartTasks(allocId, ['web'], 'User requested task to restart');
      await sim.cluster.idle();
    }
  });

  it('should send restarts, jobVersion, version and diskLimit as JSON numbers equal to Nomad\'s', async () => {
    const response = await stack().graphql(QUERY, { id: allocId });
    expect(response.errors).toBeUndefined();
    const alloc = asRecord(asRecord(response.data)['allocation']);
    const stored = stack().sim.store.allocs.get(allocId);
    const storedJob = stack().sim.store.job('default', 'counted');
    if (stored === undefined || storedJob === undefined) throw new Error('not in the store');

    expect(alloc['jobVersion']).toBe(stored.Job?.Version);
    expect(asRecord(alloc['job'])['version']).toBe(storedJob.Version);
    expect(typeof alloc['jobVersion']).toBe('number');
    expect(typeof asRecord(alloc['job'])['version']).toBe('number');

    const states = asArray(alloc['taskStates']).map(asRecord);
    const restarts = Object.fromEntries(states.map((s) => [s['name'], s['restarts']]));
    expect(restarts).toEqual({ web: stored.TaskStates?.['web']?.Restarts, sidecar: stored.TaskStates?.['sidecar']?.Restarts });
    expect(restarts).toEqual({ web: 2, sidecar: 0 });

    const events = states.flatMap((s) => asArray(s['events']).map(asRecord));
    expect(events.length).toBeGreaterThan(0);
    const storedEvents = Object.values(stored.TaskStates ?? {}).flatMap((s) => s.Events ?? []);
    for (const event of events) expect(typeof event['diskLimit']).toBe('number');
    expect(events.map((e) => e['diskLimit']).sort()).toEqual(storedEvents.map((e) => e.DiskLimit).sort());
  });

  it('should send raft indexes as strings of digits equal to Nomad\'s', async () => {
    const response = await stack().graphql(QUERY, { id: allocId });
    expect(response.errors).toBeUndefined();
    const alloc = asRecord(asRecord(response.data)['allocation']);
    const job = asRecord(alloc['job']);
    const stored = stack().sim.store.allocs.get(allocId);
    const storedJob = stack().sim.store.job('default', 'counted');
    if (stored === undefined || storedJob === undefined) throw new Error('not in the store');

    const indexes = {
      createIndex: alloc['createIndex'],
      modifyIndex: alloc['modifyIndex'],
      allocModifyIndex: alloc['allocModifyIndex'],
      jobCreateIndex: job['createIndex'],
      jobModifyIndex: job['modifyIndex'],
      jobJobModifyIndex: job['jobModifyIndex'],
    };
    for (const [name, value] of Object.entries(indexes)) {
      expect(typeof value, name).toBe('string');
      expect(value, name).toMatch(DIGITS);
    }
    expect(indexes).toEqual({
      createIndex: String(stored.CreateIndex),
      modifyIndex: String(stored.ModifyIndex),
      allocModifyIndex: String(stored.AllocModifyIndex),
      jobCreateIndex: String(storedJob.CreateIndex),
      jobModifyIndex: String(storedJob.ModifyIndex),
      jobJobModifyIndex: String(storedJob.JobModifyIndex),
    });
  });
});
