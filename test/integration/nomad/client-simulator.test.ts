import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { NomadHttpError, NomadUnavailableError } from '../../../src/nomad/errors.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { useSimulator } from '../../helpers/simulator.ts';

async function httpError(promise: Promise<unknown>): Promise<NomadHttpError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof NomadHttpError)) throw new Error(`expected a NomadHttpError, got ${String(error)}`);
  return error;
}

describe('Nomad client against the simulator', () => {
  const sim = useSimulator({ scenario: 'demo' });
  let client: NomadClient;

  beforeAll(async () => {
    await sim().cluster.idle();
    client = createNomadClient({ address: sim().url });
  });
  afterAll(async () => {
    await client.close();
  });

  it('should decode every allocation, job, node and evaluation of the demo cluster', async () => {
    const { items, meta } = await client.listAllocations({ namespace: '*', resources: true });
    expect(items.length).toBe(sim().store.allocs.size);
    expect(meta.LastIndex).toBe(sim().store.tableIndex.allocs);
    expect(meta.KnownLeader).toBe(true);
    for (const stub of items) {
      const { item } = await client.readAllocation(stub.ID);
      const stored = sim().store.allocs.get(stub.ID);
      expect(item.CreateTime).toBe(stored?.CreateTime);
      expect(item.ModifyIndex).toBe(stored?.ModifyIndex);
      expect(item.TaskStates).toEqual(stored?.TaskStates);
      expect(stub.AllocatedResources).toEqual(stored?.AllocatedResources);
      expect(item.Job?.ID).toBe(stub.JobID);
    }
    const sample = items[0];
    if (sample === undefined) throw new Error('demo cluster is empty');
    expect((await client.readJob(sample.JobID, { namespace: sample.Namespace })).item.ID).toBe(sample.JobID);
    expect((await client.readNode(sample.NodeID)).item.Name).toBe(sample.NodeName);
    expect((await client.readEvaluation(sample.EvalID)).item.JobID).toBe(sample.JobID);
    const web = await client.jobServices('web');
    const webAllocs = items.filter((a) => a.JobID === 'web' && a.Namespace === 'default' && a.ClientStatus === 'running');
    expect(new Set(web.items.map((s) => s.AllocID))).toEqual(new Set(webAllocs.map((a) => a.ID)));
    expect((await client.jobServices('web', { namespace: 'prod' })).items).toEqual([]);
  });

  it('should page with next tokens, filter, and leave task states out on request', async () => {
    const first = await client.listAllocations({ namespace: 'prod', perPage: 7, taskStates: false, filter: 'JobID == "cache"' });
    expect(first.items).toHaveLength(7);
    expect(first.items.every((a) => a.TaskStates === null && a.JobID === 'cache')).toBe(true);
    const second = await client.listAllocations({ namespace: 'prod', perPage: 7, filter: 'JobID == "cache"', nextToken: first.meta.NextToken });
    expect(second.items[0]?.ID).not.toBe(first.items[0]?.ID);
    const reversed = await client.listAllocations({ namespace: 'prod', perPage: 1, reverse: true });
    expect(reversed.items[0]?.CreateIndex).toBeGreaterThanOrEqual(first.items[0]?.CreateIndex ?? 0n);
  });

  it('should block until the index passes and carry the new index back', async () => {
    const { items, meta } = await client.listAllocations({ namespace: 'default', perPage: 1 });
    const id = items[0]?.ID ?? '';
    const read = await client.readAllocation(id);
    const pending = client.readAllocation(id, { index: read.meta.LastIndex, waitMs: 30_000 });
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(id, Object.keys(read.item.TaskStates ?? {}), 'SIGHUP');
    const woken = await pending;
    expect(woken.meta.LastIndex).toBeGreaterThan(read.meta.LastIndex);
    expect(meta.LastIndex).toBeGreaterThan(0n);
  });

  it('should stop, signal and restart, and report Nomad\'s errors as typed errors', async () => {
    const { items } = await client.listAllocations({ namespace: 'prod', filter: 'JobID == "payments" and ClientStatus == "running"', perPage: 1 });
    const id = items[0]?.ID ?? '';
    expect(await client.signalAllocation(id, { signalName: 'SIGUSR1', task: 'payments' })).toEqual({ Index: 0n });
    expect(await client.restartAllocation(id, { taskName: 'envoy' })).toEqual({ Index: 0n });
    const unknownTask = await httpError(client.signalAllocation(id, { signalName: 'SIGUSR1', task: 'nope' }));
    expect([unknownTask.status, unknownTask.nomadMessage]).toEqual([500, 'Task not found']);
    const both = await httpError(client.restartAllocation(id, { taskName: 'envoy', allTasks: true }));
    expect(both.nomadMessage).toBe('task name cannot be set when restarting all tasks');
    await sim().cluster.idle();
    // Hold the scheduler so the allocation is exactly as the stop left it.
    const release = sim().cluster.hold();
    const stopped = await client.stopAllocation(id, { noShutdownDelay: true });
    const modifyIndex = sim().store.allocs.get(id)?.ModifyIndex;
    release();
    expect(stopped.Index).toBe(modifyIndex);
    expect(sim().store.evals.get(stopped.EvalID)?.TriggeredBy).toBe('alloc-stop');

    const missing = await httpError(client.readAllocation('00000000-0000-4000-8000-000000000000'));
    expect([missing.status, missing.nomadMessage]).toEqual([404, 'alloc not found']);
    expect(missing.meta.LastIndex).toBe(sim().store.tableIndex.allocs);
    const short = await httpError(client.readAllocation(id.slice(0, 8)));
    expect([short.status, short.nomadMessage]).toEqual([500, 'alloc lookup failed: index error: UUID must be 36 characters']);
    const badFilter = await httpError(client.listAllocations({ filter: 'NotValid' }));
    expect(badFilter.status).toBe(400);
    const services = await httpError(client.allocationServices(id));
    expect([services.status, services.nomadMessage]).toEqual([404, 'allocation not found']);
    expect((await client.allocationServices(id, { namespace: 'prod' })).items.length).toBeGreaterThanOrEqual(0);
  });

  it('should list a job\'s stubs and a node\'s full allocations, decoded, with their indexes', async () => {
    await sim().cluster.idle();
    const { store } = sim();
    const web = await client.jobAllocations('web');
    const storedWeb = [...store.allocs.values()].filter((a) => a.Namespace === 'default' && a.JobID === 'web');
    expect(web.items.map((a) => a.ID)).toEqual(storedWeb.map((a) => a.ID).sort());
    expect(web.meta.LastIndex).toBe(store.tableIndex.allocs);
    expect(web.items.every((a) => a.AllocatedResources === null && a.TaskStates !== null)).toBe(true);
    const staging = await client.jobAllocations('payments', { namespace: 'staging', all: true });
    expect(staging.items.length).toBe([...store.allocs.values()].filter((a) => a.Namespace === 'staging' && a.JobID === 'payments').length);
    expect(staging.items.every((a) => a.Namespace === 'staging' && a.JobType === 'service')).toBe(true);
    expect((await client.jobAllocations('no-such-job')).items).toEqual([]);

    const nodeId = web.items[0]?.NodeID ?? '';
    const onNode = await client.nodeAllocations(nodeId);
    const storedOnNode = [...store.allocs.values()].filter((a) => a.NodeID === nodeId);
    expect(new Set(onNode.items.map((a) => a.ID))).toEqual(new Set(storedOnNode.map((a) => a.ID)));
    expect(onNode.meta.LastIndex).toBe(storedOnNode.reduce((max, a) => (a.ModifyIndex > max ? a.ModifyIndex : max), 0n));
    const [first] = onNode.items;
    expect(first?.Job?.ID).toBe(first?.JobID);
    expect(first).toEqual((await client.readAllocation(first?.ID ?? '')).item);
  });
});

describe('Nomad client with ACLs and failures', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ acl: true, timing: { schedulerMs: 5, clientMs: 5 } });
    sim.cluster.createJob({ id: 'app', count: 2 });
    await sim.cluster.idle();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('should send the per-call token, which overrides the default one', async () => {
    const reader = sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const client = createNomadClient({ address: sim.url, token: 'not-a-real-token' });
    try {
      expect((await httpError(client.listAllocations())).status).toBe(403);
      expect((await client.listAllocations({ token: reader })).items).toHaveLength(2);
      const denied = await httpError(client.listAllocations({ token: reader, namespace: 'prod' }));
      expect([denied.status, denied.nomadMessage]).toEqual([403, 'Permission denied']);
      expect(denied.message).not.toContain(reader);
    } finally {
      await client.close();
    }
  });

  it('should need node read for a node\'s allocations and read-job for a job\'s', async () => {
    const reader = sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    const client = createNomadClient({ address: sim.url, token: reader });
    try {
      const nodeId = [...sim.store.nodes.keys()][0] ?? '';
      const denied = await httpError(client.nodeAllocations(nodeId));
      expect([denied.status, denied.nomadMessage]).toEqual([403, 'Permission denied']);
      expect((await client.jobAllocations('app')).items).toHaveLength(2);
      expect((await httpError(client.jobAllocations('app', { namespace: 'prod' }))).status).toBe(403);
    } finally {
      await client.close();
    }
  });

  it('should report a stopped server as unavailable, not as an HTTP error', async () => {
    const doomed = await startSimulator();
    const client = createNomadClient({ address: doomed.url });
    await doomed.stop();
    try {
      await expect(client.listAllocations()).rejects.toBeInstanceOf(NomadUnavailableError);
    } finally {
      await client.close();
    }
  });
});
