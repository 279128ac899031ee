import { describe, expect, it } from 'vitest';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import { asArray, asRecord, getJson, send } from '../../helpers/http.ts';
import { useSimulator } from '../../helpers/simulator.ts';

interface Event {
  Type: string;
  RestartReason: string;
  TaskSignal: string;
}

async function readAlloc(baseUrl: string, id: string): Promise<Record<string, unknown>> {
  return asRecord((await getJson(baseUrl, `/v1/allocation/${id}`)).body);
}

function taskState(alloc: Record<string, unknown>, task: string): Record<string, unknown> {
  return asRecord(asRecord(alloc['TaskStates'])[task]);
}

function events(alloc: Record<string, unknown>, task: string): Event[] {
  return asArray(taskState(alloc, task)['Events']).map((e) => asRecord(e) as unknown as Event);
}

describe('simulator allocation lifecycle', () => {
  const sim = useSimulator();

  async function runningAlloc(type: 'service' | 'batch' = 'service', tasks = ['web']): Promise<string> {
    const { allocations } = sim().cluster.createJob({
      id: `job-${Math.random().toString(16).slice(2, 8)}`,
      type,
      groups: [{ name: 'g', count: 1, tasks: tasks.map((name) => ({ name, services: [{ name: `${name}-svc` }] })) }],
    });
    await sim().cluster.idle();
    return allocations[0]?.ID ?? '';
  }

  it('should move a new allocation from pending to running with the documented task events', async () => {
    const release = sim().cluster.hold();
    const { allocations } = sim().cluster.createJob({ id: 'fresh' });
    const id = allocations[0]?.ID ?? '';
    const placed = await readAlloc(sim().url, id);
    release();
    expect(placed['ClientStatus']).toBe('pending');
    expect(placed['TaskStates']).toBeUndefined();
    await sim().cluster.idle();
    const running = await readAlloc(sim().url, id);
    expect(running['ClientStatus']).toBe('running');
    expect(running['ClientDescription']).toBe('Tasks are running');
    expect(events(running, 'server').map((e) => e.Type)).toEqual(['Received', 'Task Setup', 'Driver', 'Started']);
    expect(taskState(running, 'server')['State']).toBe('running');
    expect(asRecord(running['DeploymentStatus'])['Healthy']).toBe(true);
  });

  it('should stop like Nomad: transition and alloc-stop eval at once, then stop, complete and replace', async () => {
    const id = await runningAlloc();
    const release = sim().cluster.hold();
    const response = await send(sim().url, `/v1/allocation/${id}/stop?no_shutdown_delay=true`, { method: 'PUT' });
    const { EvalID } = asRecord(parseNomadJson(response.text));
    const right = await readAlloc(sim().url, id);
    const evaluation = asRecord((await getJson(sim().url, `/v1/evaluation/${String(EvalID)}`)).body);
    release();
    expect(right['DesiredStatus']).toBe('run');
    expect(right['DesiredTransition']).toEqual({ Migrate: true, NoShutdownDelay: true, Reschedule: false, ForceReschedule: null, MigrateDisablePlacement: null });
    expect(evaluation['TriggeredBy']).toBe('alloc-stop');
    expect(evaluation['Status']).toBe('pending');

    await sim().cluster.idle();
    const stopped = await readAlloc(sim().url, id);
    expect(stopped['DesiredStatus']).toBe('stop');
    expect(stopped['DesiredDescription']).toBe('alloc is being migrated');
    expect(stopped['ClientStatus']).toBe('complete');
    expect(events(stopped, 'web').map((e) => e.Type).slice(-4)).toEqual(['Skipping shutdown delay', 'Killing', 'Terminated', 'Killed']);
    const next = String(stopped['NextAllocation']);
    const replacement = await readAlloc(sim().url, next);
    expect(replacement['PreviousAllocation']).toBe(id);
    expect(replacement['ClientStatus']).toBe('running');
    expect(asArray((await getJson(sim().url, `/v1/allocation/${id}/services`)).body)).toEqual([]);
    expect(asArray((await getJson(sim().url, `/v1/allocation/${next}/services`)).body)).toHaveLength(1);
    expect(asRecord((await getJson(sim().url, `/v1/evaluation/${String(EvalID)}`)).body)['Status']).toBe('complete');
  });

  it('should still answer 200 and create an eval when stopping a terminal allocation', async () => {
    const id = await runningAlloc('batch');
    await send(sim().url, `/v1/allocation/${id}/stop`, { method: 'POST' });
    await sim().cluster.idle();
    const again = await send(sim().url, `/v1/allocation/${id}/stop`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect((await readAlloc(sim().url, id))['NextAllocation']).toBeUndefined();
  });

  it('should record a restart with its reason and counter', async () => {
    const id = await runningAlloc('service', ['web', 'sidecar']);
    await send(sim().url, `/v1/client/allocation/${id}/restart`, { method: 'POST', body: '{"TaskName":"web"}' });
    const after = await readAlloc(sim().url, id);
    expect(taskState(after, 'web')['Restarts']).toBe(1);
    expect(taskState(after, 'web')['LastRestart']).toBeTypeOf('string');
    expect(taskState(after, 'sidecar')['Restarts']).toBe(0);
    expect(events(after, 'web').find((e) => e.Type === 'Restart Signaled')?.RestartReason).toBe('User requested task to restart');
    await sim().cluster.idle();
    expect(taskState(await readAlloc(sim().url, id), 'web')['State']).toBe('running');

    await send(sim().url, `/v1/client/allocation/${id}/restart`, { method: 'POST', body: '{"AllTasks":true}' });
    const all = await readAlloc(sim().url, id);
    expect(taskState(all, 'sidecar')['Restarts']).toBe(1);
    expect(events(all, 'sidecar').filter((e) => e.Type === 'Restart Signaled').at(-1)?.RestartReason).toBe('User requested all tasks to restart');
  });

  it('should record a signal on every task, or the named one', async () => {
    const id = await runningAlloc('service', ['web', 'sidecar']);
    await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGUSR1","Task":"web"}' });
    const one = await readAlloc(sim().url, id);
    expect(events(one, 'web').at(-1)).toMatchObject({ Type: 'Signaling', TaskSignal: 'SIGUSR1' });
    expect(events(one, 'sidecar').at(-1)?.Type).toBe('Started');
    await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP"}' });
    const both = await readAlloc(sim().url, id);
    expect(events(both, 'sidecar').at(-1)).toMatchObject({ Type: 'Signaling', TaskSignal: 'SIGHUP' });
  });

  it('should keep only the last 10 events of a task', async () => {
    const id = await runningAlloc();
    for (let i = 0; i < 12; i++) sim().cluster.signalTasks(id, ['web'], `SIGUSR${(i % 2) + 1}`);
    const alloc = await readAlloc(sim().url, id);
    expect(events(alloc, 'web')).toHaveLength(10);
    expect(events(alloc, 'web').every((e) => e.Type === 'Signaling')).toBe(true);
  });

  it('should fail a task, fail the allocation and reschedule a service job with a tracker', async () => {
    const id = await runningAlloc('service', ['web', 'sidecar']);
    sim().cluster.failTask(id, 'web', 2);
    const failed = await readAlloc(sim().url, id);
    expect(failed['ClientStatus']).toBe('failed');
    expect(taskState(failed, 'web')).toMatchObject({ State: 'dead', Failed: true });
    expect(events(failed, 'sidecar').map((e) => e.Type).slice(-2)).toEqual(['Sibling Task Failed', 'Killed']);
    await sim().cluster.idle();
    const next = String((await readAlloc(sim().url, id))['NextAllocation']);
    const replacement = await readAlloc(sim().url, next);
    const tracker = asArray(asRecord(replacement['RescheduleTracker'])['Events']);
    expect(asRecord(tracker[0])['PrevAllocID']).toBe(id);
  });

  it('should mark allocations lost when their node goes down and replace them elsewhere', async () => {
    sim().cluster.createNode({ name: 'spare' });
    const id = await runningAlloc();
    const nodeId = sim().store.allocs.get(id)?.NodeID ?? '';
    sim().cluster.loseNode(nodeId);
    const lost = await readAlloc(sim().url, id);
    expect(lost['ClientStatus']).toBe('lost');
    expect(lost['DesiredStatus']).toBe('stop');
    expect(asRecord((await getJson(sim().url, `/v1/node/${nodeId}`)).body)['Status']).toBe('down');
    await sim().cluster.idle();
    const replacement = await readAlloc(sim().url, String((await readAlloc(sim().url, id))['NextAllocation']));
    expect(replacement['NodeID']).not.toBe(nodeId);
    expect(replacement['ClientStatus']).toBe('running');
    expect(await send(sim().url, `/v1/client/allocation/${id}/signal`, { method: 'POST', body: '{"Signal":"SIGHUP"}' })).toMatchObject({ status: 404, text: 'No path to node' });
  });
});
