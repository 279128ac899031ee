import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import type { Allocation } from '../../../src/nomad/types.ts';
import { isTerminal } from '../../../src/simulator/client-status.ts';
import type { Simulator } from '../../../src/simulator/server.ts';
import { asArray, asRecord, getJson, send } from '../../helpers/http.ts';
import { shapeDifferences } from '../../helpers/shape.ts';
import { useSimulator } from '../../helpers/simulator.ts';

function fixture(name: string): unknown {
  return parseNomadJson(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));
}

const MAPS = new Set(['TaskStates', 'TaskResources', 'NodesAvailable', 'Scores', 'Details', 'Config']);

function indexOf(headers: Headers): bigint {
  return BigInt(headers.get('x-nomad-index') ?? 'NaN');
}

function idsOf(body: unknown): string[] {
  return asArray(body).map((item) => String(asRecord(item)['ID']));
}

function sortedIds(allocs: readonly Allocation[]): string[] {
  return allocs.map((a) => a.ID).sort();
}

/** The allocations on `nodeId` in the order Nomad's `node` index holds them: running first, then by id. */
function nodeOrder(sim: Simulator, nodeId: string): string[] {
  const onNode = [...sim.store.allocs.values()].filter((a) => a.NodeID === nodeId);
  return [...sortedIds(onNode.filter((a) => !isTerminal(a))), ...sortedIds(onNode.filter((a) => isTerminal(a)))];
}

/** Two nodes that each run at least one allocation of `allocs`. */
function twoNodesWithAllocations(allocs: readonly Allocation[]): [Allocation, Allocation] {
  const first = allocs[0];
  const other = allocs.find((a) => a.NodeID !== first?.NodeID);
  if (first === undefined || other === undefined) throw new Error('every allocation landed on one node; place more');
  return [first, other];
}

describe('simulator allocations of a job and of a node', () => {
  const sim = useSimulator();

  beforeAll(async () => {
    sim().cluster.createNode({ name: 'client-2' });
    sim().cluster.createNode({ name: 'client-3' });
    sim().cluster.createJob({ id: 'api', count: 3 });
    sim().cluster.createJob({ id: 'api', namespace: 'prod', count: 2 });
    sim().cluster.createJob({ id: 'other', count: 2 });
    await sim().cluster.idle();
  });

  function allocsOf(namespace: string, jobId: string): Allocation[] {
    return [...sim().store.allocs.values()].filter((a) => a.Namespace === namespace && a.JobID === jobId);
  }

  it('should list a job\'s allocations as list stubs in allocation-id order, with the allocs table index', async () => {
    const { body, headers } = await getJson(sim().url, '/v1/job/api/allocations');
    expect(idsOf(body)).toEqual(sortedIds(allocsOf('default', 'api')));
    for (const stub of asArray(body)) {
      expect(asRecord(stub)).toMatchObject({ JobID: 'api', Namespace: 'default', JobType: 'service' });
      expect(asRecord(stub)['Job']).toBeUndefined();
    }
    expect(indexOf(headers)).toBe(sim().store.tableIndex.allocs);
    expect(headers.get('x-nomad-knownleader')).toBe('true');
    expect(sim().requestCount('GET /v1/job/:id/allocations')).toBeGreaterThan(0);
  });

  it('should list the job of the request\'s namespace only', async () => {
    const prod = await getJson(sim().url, '/v1/job/api/allocations?namespace=prod');
    expect(idsOf(prod.body)).toEqual(sortedIds(allocsOf('prod', 'api')));
    expect(asArray((await getJson(sim().url, '/v1/job/api/allocations?namespace=staging')).body)).toEqual([]);
  });

  it('should answer an unknown job with an empty list and the allocs table index, not a 404', async () => {
    const response = await send(sim().url, '/v1/job/no-such-job/allocations');
    expect(response.status).toBe(200);
    expect(response.text).toBe('[]');
    expect(indexOf(response.headers)).toBe(sim().store.tableIndex.allocs);
  });

  it('should send the same stub as the allocation list, keeping task states and leaving resources out whatever is asked', async () => {
    const [alloc] = allocsOf('default', 'api');
    const id = alloc?.ID ?? '';
    const fromList = await send(sim().url, `/v1/allocations?prefix=${id}`);
    const fromJob = await getJson(sim().url, '/v1/job/api/allocations?resources=true&task_states=false');
    const stub = asArray(fromJob.body).find((s) => asRecord(s)['ID'] === id);
    expect(stub).toEqual(asArray(parseNomadJson(fromList.text))[0]);
    expect(asRecord(stub)['TaskStates']).toBeTypeOf('object');
    expect(asRecord(stub)['TaskStates']).not.toBeNull();
    expect(asRecord(stub)['AllocatedResources']).toBeUndefined();
    // Unlike the list endpoint, the job endpoint never parses these flags, so a bad value is no 500.
    expect((await send(sim().url, '/v1/job/api/allocations?resources=maybe&task_states=x')).status).toBe(200);
  });

  it('should match the documented list stub field by field', async () => {
    const { allocations } = sim().cluster.createJob({
      id: 'cache',
      groups: [{ name: 'cache', count: 1, tasks: [{ name: 'redis', services: [{ name: 'redis-cache', portLabel: 'db', tags: ['cache'] }] }] }],
    });
    await sim().cluster.idle();
    const { body } = await getJson(sim().url, '/v1/job/cache/allocations');
    const [stub] = asArray(body);
    const [sample] = asArray(fixture('nomad-allocations-list.json'));
    expect(shapeDifferences(sample, stub, { mapKeys: MAPS })).toEqual([]);
    expect(Object.keys(asRecord(stub))).toEqual(Object.keys(asRecord(stub)).sort());
    expect(asRecord(stub)['ID']).toBe(allocations[0]?.ID);
  });

  it('should hide the allocations of a purged job\'s predecessor unless all is true', async () => {
    const first = sim().cluster.createJob({ id: 'nightly', type: 'batch', count: 2 }).allocations;
    await sim().cluster.idle();
    sim().cluster.purgeJob('nightly');
    await sim().cluster.idle();
    // Purged, the job is unknown: nothing to compare CreateIndex with, so every allocation shows.
    const orphaned = asArray((await getJson(sim().url, '/v1/job/nightly/allocations')).body);
    expect(idsOf(orphaned)).toEqual(sortedIds(first));
    for (const stub of orphaned) {
      expect(asRecord(stub)).toMatchObject({ DesiredStatus: 'stop', DesiredDescription: 'alloc not needed due to job update', ClientStatus: 'complete' });
    }
    const second = sim().cluster.createJob({ id: 'nightly', type: 'batch', count: 1 }).allocations;
    await sim().cluster.idle();
    expect(idsOf((await getJson(sim().url, '/v1/job/nightly/allocations')).body)).toEqual(sortedIds(second));
    const everything = sortedIds([...first, ...second]);
    expect(idsOf((await getJson(sim().url, '/v1/job/nightly/allocations?all=true')).body)).toEqual(everything);
    expect(idsOf((await getJson(sim().url, '/v1/job/nightly/allocations?all=1')).body)).toEqual(everything);
    // A value ParseBool refuses is dropped, not an error: it means false.
    expect(idsOf((await getJson(sim().url, '/v1/job/nightly/allocations?all=yes')).body)).toEqual(sortedIds(second));
  });

  it('should take the job id as everything between the prefix and the suffix of the decoded path', async () => {
    const { allocations } = sim().cluster.createJob({ id: 'team/app' });
    await sim().cluster.idle();
    expect(idsOf((await getJson(sim().url, '/v1/job/team/app/allocations')).body)).toEqual(sortedIds(allocations));
    expect(idsOf((await getJson(sim().url, '/v1/job/team%2Fapp/allocations')).body)).toEqual(sortedIds(allocations));
  });

  it('should answer only GET on both endpoints, and parse the read options first', async () => {
    const nodeId = allocsOf('default', 'api')[0]?.NodeID ?? '';
    for (const path of ['/v1/job/api/allocations', `/v1/node/${nodeId}/allocations`]) {
      expect(await send(sim().url, path, { method: 'POST' })).toMatchObject({ status: 405, text: 'Invalid method' });
      expect(await send(sim().url, path, { method: 'DELETE' })).toMatchObject({ status: 405, text: 'Invalid method' });
      expect(await send(sim().url, `${path}?index=abc`)).toMatchObject({ status: 400, text: 'Invalid index' });
      expect(await send(sim().url, `${path}?index=1&wait=5`)).toMatchObject({ status: 400, text: 'Invalid wait time' });
    }
  });

  it('should list a node\'s full allocations, running ones first, each by id, whatever their namespace', async () => {
    const [alloc] = allocsOf('default', 'api');
    const nodeId = alloc?.NodeID ?? '';
    sim().cluster.stopAllocation(alloc?.ID ?? '', { noShutdownDelay: false, reschedule: false });
    await sim().cluster.idle();
    const { body } = await getJson(sim().url, `/v1/node/${nodeId}/allocations?namespace=staging`);
    expect(idsOf(body)).toEqual(nodeOrder(sim(), nodeId));
    expect(idsOf(body)).toContain(alloc?.ID);
    const items = asArray(body);
    for (const item of items) {
      const full = asRecord(item);
      expect(full['NodeID']).toBe(nodeId);
      const read = await send(sim().url, `/v1/allocation/${String(full['ID'])}`);
      expect(full).toEqual(parseNomadJson(read.text));
    }
    expect(asRecord(items[0])['JobType']).toBeUndefined();
  });

  it('should match the documented full allocation field by field on a node', async () => {
    const { allocations } = sim().cluster.createJob({
      id: 'flaky',
      groups: [{ name: 'flaky', count: 1, tasks: [{ name: 'redis', services: [{ name: 'flaky', portLabel: 'db' }] }] }],
    });
    await sim().cluster.idle();
    sim().cluster.failTask(allocations[0]?.ID ?? '', 'redis');
    await sim().cluster.idle();
    // The second generation has a previous and a next allocation and a reschedule tracker.
    const middle = sim().store.allocs.get(sim().store.allocs.get(allocations[0]?.ID ?? '')?.NextAllocation ?? '');
    sim().cluster.failTask(middle?.ID ?? '', 'redis');
    await sim().cluster.idle();
    const { body } = await getJson(sim().url, `/v1/node/${middle?.NodeID ?? ''}/allocations`);
    const item = asArray(body).find((a) => asRecord(a)['ID'] === middle?.ID);
    const sample = asRecord(fixture('nomad-allocation-read.json'));
    // The docs print RescheduleTracker's Delay as a string; Nomad's encoder writes durations as integers.
    asRecord(asArray(asRecord(sample['RescheduleTracker'])['Events'])[0])['Delay'] = 5_000_000_000;
    expect(shapeDifferences(sample, item, { mapKeys: MAPS, shallowKeys: new Set(['Job']), omitEmpty: true })).toEqual([]);
  });

  it('should report the highest ModifyIndex among the node\'s allocations as its index', async () => {
    const running = allocsOf('default', 'other').concat(allocsOf('default', 'api')).filter((a) => !isTerminal(a));
    const [onA, onB] = twoNodesWithAllocations(running);
    sim().cluster.signalTasks(onB.ID, ['server'], 'SIGHUP');
    const { headers } = await getJson(sim().url, `/v1/node/${onA.NodeID}/allocations`);
    const onNodeA = [...sim().store.allocs.values()].filter((a) => a.NodeID === onA.NodeID);
    const highest = onNodeA.reduce((max, a) => (a.ModifyIndex > max ? a.ModifyIndex : max), 0n);
    expect(indexOf(headers)).toBe(highest);
    expect(indexOf(headers)).toBeLessThan(sim().store.tableIndex.allocs);
  });

  it('should answer an unknown node with an empty list and the allocs table index, not a 404', async () => {
    const response = await send(sim().url, '/v1/node/00000000-0000-4000-8000-000000000000/allocations');
    expect([response.status, response.text]).toEqual([200, '[]']);
    expect(indexOf(response.headers)).toBe(sim().store.tableIndex.allocs);
  });

  it('should take the node id as a case-insensitive prefix of node ids', async () => {
    const nodeId = allocsOf('default', 'api')[0]?.NodeID ?? '';
    const exact = await send(sim().url, `/v1/node/${nodeId}/allocations`);
    expect((await send(sim().url, `/v1/node/${nodeId.toUpperCase()}/allocations`)).text).toBe(exact.text);
    const prefix = nodeId.slice(0, 3);
    const matching = [...sim().store.nodes.keys()].filter((id) => id.startsWith(prefix)).sort();
    const expected = matching.flatMap((id) => nodeOrder(sim(), id));
    expect(idsOf((await getJson(sim().url, `/v1/node/${prefix}/allocations`)).body)).toEqual(expected);
  });
});

describe('simulator blocking queries on a job\'s and a node\'s allocations', () => {
  const sim = useSimulator();

  beforeAll(async () => {
    sim().cluster.createNode({ name: 'client-2' });
    sim().cluster.createNode({ name: 'client-3' });
    await sim().cluster.idle();
  });

  it('should hold a job query until one of that job\'s allocations changes', async () => {
    const alpha = sim().cluster.createJob({ id: 'alpha', namespace: 'blk' }).allocations[0]?.ID ?? '';
    const zulu = sim().cluster.createJob({ id: 'zulu', namespace: 'blk' }).allocations[0]?.ID ?? '';
    const elsewhere = sim().cluster.createJob({ id: 'alpha' }).allocations[0]?.ID ?? '';
    await sim().cluster.idle();
    const first = await send(sim().url, '/v1/job/alpha/allocations?namespace=blk');
    const index = indexOf(first.headers);
    const pending = send(sim().url, `/v1/job/alpha/allocations?namespace=blk&index=${index}&wait=60s`);
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(zulu, ['server'], 'SIGHUP');
    sim().cluster.signalTasks(elsewhere, ['server'], 'SIGHUP');
    expect(sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(alpha, ['server'], 'SIGUSR1');
    const woken = await pending;
    expect(indexOf(woken.headers)).toBe(sim().store.tableIndex.allocs);
    expect(indexOf(woken.headers)).toBeGreaterThan(index);
    expect(woken.text).toContain('"TaskSignal":"SIGUSR1"');
    expect(sim().blockingInFlight()).toBe(0);
  });

  it('should wake a query on an unknown job at a write under the same radix index path, as memdb\'s watch does', async () => {
    const web = sim().cluster.createJob({ id: 'web', namespace: 'radix' }).allocations[0]?.ID ?? '';
    const unrelated = sim().cluster.createJob({ id: 'unrelated' }).allocations[0]?.ID ?? '';
    await sim().cluster.idle();
    const index = sim().store.tableIndex.allocs;
    const pending = send(sim().url, `/v1/job/wex/allocations?namespace=radix&index=${index}&wait=60s`);
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(unrelated, ['server'], 'SIGHUP');
    expect(sim().blockingInFlight()).toBe(1);
    // `web` is the only key under "r" in the job index, so its radix leaf is what the seek for `wex` watches.
    sim().cluster.signalTasks(web, ['server'], 'SIGHUP');
    const woken = await pending;
    expect(woken.text).toBe('[]');
    expect(indexOf(woken.headers)).toBeGreaterThan(index);
  });

  it('should hold a node query until an allocation on that node changes, and report that allocation\'s index', async () => {
    const { allocations } = sim().cluster.createJob({ id: 'spread', count: 8 });
    await sim().cluster.idle();
    const [onA, onB] = twoNodesWithAllocations(allocations);
    const first = await send(sim().url, `/v1/node/${onA.NodeID}/allocations`);
    const index = indexOf(first.headers);
    const pending = send(sim().url, `/v1/node/${onA.NodeID}/allocations?index=${index}&wait=60s`);
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(onB.ID, ['server'], 'SIGHUP');
    expect(sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(onA.ID, ['server'], 'SIGHUP');
    const woken = await pending;
    expect(indexOf(woken.headers)).toBe(sim().store.allocs.get(onA.ID)?.ModifyIndex);
    expect(indexOf(woken.headers)).toBeGreaterThan(index);
  });

  it('should hold a query whose index is ahead until wait runs out, then report the lower index', async () => {
    const current = sim().store.tableIndex.allocs;
    const response = await send(sim().url, `/v1/job/alpha/allocations?namespace=blk&index=${current + 1000n}&wait=200ms`);
    expect(response.status).toBe(200);
    expect(indexOf(response.headers)).toBe(current);
  });
});

describe('simulator ACLs on a job\'s and a node\'s allocations', () => {
  const sim = useSimulator({ acl: true });
  const tokens = { reader: '', prodReader: '', listOnly: '', nodeReader: '', nodeAndDefault: '', management: '' };
  let nodeId = '';

  beforeAll(async () => {
    // The empty scenario has one node: every allocation lands on it.
    nodeId = sim().cluster.createJob({ id: 'app', count: 2 }).allocations[0]?.NodeID ?? '';
    sim().cluster.createJob({ id: 'app', namespace: 'prod', count: 2 });
    await sim().cluster.idle();
    tokens.reader = sim().acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    tokens.prodReader = sim().acl.createToken({ namespaces: { prod: { capabilities: ['read-job'] } } }).SecretID;
    tokens.listOnly = sim().acl.createToken({ namespaces: { default: { capabilities: ['list-jobs'] } } }).SecretID;
    tokens.nodeReader = sim().acl.createToken({ node: 'read' }).SecretID;
    tokens.nodeAndDefault = sim().acl.createToken({ node: 'read', namespaces: { default: { policy: 'read' } } }).SecretID;
    tokens.management = sim().acl.managementToken.SecretID;
  });

  function as(token: string): { headers: Record<string, string> } {
    return { headers: { 'X-Nomad-Token': token } };
  }

  function namespacesIn(text: string): string[] {
    return [...new Set(asArray(parseNomadJson(text)).map((a) => String(asRecord(a)['Namespace'])))].sort();
  }

  it('should need read-job in the request\'s namespace for a job\'s allocations, list-jobs is not enough', async () => {
    expect((await send(sim().url, '/v1/job/app/allocations', as(tokens.reader))).status).toBe(200);
    expect(await send(sim().url, '/v1/job/app/allocations', as(tokens.listOnly))).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await send(sim().url, '/v1/job/app/allocations?namespace=prod', as(tokens.reader))).toMatchObject({ status: 403, text: 'Permission denied' });
    const prod = await send(sim().url, '/v1/job/app/allocations?namespace=prod', as(tokens.prodReader));
    expect(namespacesIn(prod.text)).toEqual(['prod']);
    expect(await send(sim().url, '/v1/job/app/allocations')).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await send(sim().url, '/v1/job/app/allocations', as('00000000-0000-4000-8000-000000000000'))).toMatchObject({ status: 403 });
    // The check comes before the lookup: an unknown job is a 403 too.
    expect(await send(sim().url, '/v1/job/nothing/allocations', as(tokens.listOnly))).toMatchObject({ status: 403 });
  });

  it('should need node read for a node\'s allocations, whatever the namespace rights', async () => {
    expect(await send(sim().url, `/v1/node/${nodeId}/allocations`, as(tokens.reader))).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await send(sim().url, `/v1/node/${nodeId}/allocations`)).toMatchObject({ status: 403 });
    expect(await send(sim().url, '/v1/node/00000000-0000-4000-8000-000000000000/allocations', as(tokens.reader))).toMatchObject({ status: 403 });
  });

  it('should silently leave out allocations in namespaces the token cannot read, yet report their index', async () => {
    const onNode = [...sim().store.allocs.values()].filter((a) => a.NodeID === nodeId);
    const highest = onNode.reduce((max, a) => (a.ModifyIndex > max ? a.ModifyIndex : max), 0n);
    const none = await send(sim().url, `/v1/node/${nodeId}/allocations`, as(tokens.nodeReader));
    expect([none.status, none.text]).toEqual([200, '[]']);
    expect(indexOf(none.headers)).toBe(highest);
    const someText = (await send(sim().url, `/v1/node/${nodeId}/allocations`, as(tokens.nodeAndDefault))).text;
    expect(namespacesIn(someText)).toEqual(['default']);
    const allText = (await send(sim().url, `/v1/node/${nodeId}/allocations`, as(tokens.management))).text;
    expect(namespacesIn(allText)).toEqual(['default', 'prod']);
    expect(asArray(parseNomadJson(allText))).toHaveLength(onNode.length);
  });

  it('should wake a node query on a change to an allocation the token cannot read, without showing it', async () => {
    const prodAlloc = [...sim().store.allocs.values()].find((a) => a.Namespace === 'prod' && a.NodeID === nodeId);
    const first = await send(sim().url, `/v1/node/${nodeId}/allocations`, as(tokens.nodeAndDefault));
    const index = indexOf(first.headers);
    const pending = send(sim().url, `/v1/node/${nodeId}/allocations?index=${index}&wait=60s`, as(tokens.nodeAndDefault));
    await expect.poll(() => sim().blockingInFlight()).toBe(1);
    sim().cluster.signalTasks(prodAlloc?.ID ?? '', ['server'], 'SIGHUP');
    const woken = await pending;
    expect(indexOf(woken.headers)).toBe(sim().store.allocs.get(prodAlloc?.ID ?? '')?.ModifyIndex);
    expect(woken.text).toBe(first.text);
  });
});
