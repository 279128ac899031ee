import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { encodeGlobalId } from '../../../src/schema/global-id.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createGatewayApp, type GraphQLResponse } from '../../helpers/gateway.ts';
import { emptyReadLog, LOADER_READ_CONCURRENCY, recordingClient, resetReadLog } from '../../helpers/recording-nomad.ts';

/**
 * `_entities` on /subgraph, the way a router calls it, against the real simulator: which upstream
 * calls a batch of references costs. The Nomad client handed to the app records every full
 * allocation read, so the test sees how many run at once as well as how many there are.
 */

const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Allocation { id allocId name jobId clientStatus job { namespace jobId } }
    ... on Job { id namespace jobId name type }
    ... on ClientNode { id nodeId name }
    ... on Evaluation { id evalId namespace jobId triggeredBy }
  }
}`;

describe('_entities on the subgraph endpoint', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let app: App;
  let url = '';
  const log = emptyReadLog();
  const allocIds: string[] = [];
  let nodeId = '';

  const entities = async (representations: Record<string, unknown>[]): Promise<GraphQLResponse> => {
    const response = await fetch(`${url}/subgraph`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: ENTITIES, variables: { representations } }),
    });
    return { status: response.status, ...((await response.json()) as Omit<GraphQLResponse, 'status'>) };
  };

  beforeAll(async () => {
    sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 } });
    for (const [i, namespace] of ['default', 'default', 'team-b', 'team-b'].entries()) {
      const { allocations } = sim.cluster.createJob({ id: i % 2 === 0 ? 'web' : 'worker', namespace, count: 25 });
      allocIds.push(...allocations.map((a) => a.ID));
      nodeId = allocations[0]?.NodeID ?? nodeId;
    }
    await sim.cluster.idle();
    nomad = createNomadClient({ address: sim.url });
    app = createGatewayApp(recordingClient(nomad, log));
    ({ url } = await app.start(0));
  });

  afterAll(async () => {
    await app?.stop();
    await nomad?.close();
    await sim?.stop();
  });

  beforeEach(() => {
    sim.resetRequestCounts();
    resetReadLog(log);
  });

  it('should resolve 100 Allocation references with one read per distinct id, run as one loader batch', async () => {
    expect(allocIds).toHaveLength(100);
    // The 100 ids, then 20 of them again: a router may send the same reference twice.
    const representations = [...allocIds, ...allocIds.slice(0, 20)].map((allocId) => ({ __typename: 'Allocation', allocId }));
    const response = await entities(representations);

    expect(response.errors).toBeUndefined();
    const results = response.data?.['_entities'] as { __typename: string; allocId: string; jobId: string; job: { namespace: string; jobId: string } }[];
    expect(results.map((r) => r.allocId)).toEqual(representations.map((r) => r.allocId));
    expect(results.every((r) => r.__typename === 'Allocation' && r.job.jobId === r.jobId)).toBe(true);

    // Nomad has no multi-get: 100 full reads, each id once, and one read per distinct job.
    expect(sim.requestCounts()).toEqual({ 'GET /v1/allocation/:id': 100, 'GET /v1/job/:id': 2 * 2 });
    expect([...log.ids].sort()).toEqual([...allocIds].sort());
    // One batch: its first wave of reads starts together, bounded by the loader's concurrency. One
    // reference at a time would give 1; a read per reference outside the loader would give 100.
    expect(log.startedBeforeFirstSettled).toBe(LOADER_READ_CONCURRENCY);
    expect(log.maxInFlight).toBe(LOADER_READ_CONCURRENCY);
  });

  it('should resolve Job references by namespace and jobId, and ClientNode references by nodeId, one read per distinct key', async () => {
    const representations = [
      { __typename: 'Job', namespace: 'default', jobId: 'web' },
      { __typename: 'Job', namespace: 'team-b', jobId: 'web' },
      { __typename: 'ClientNode', nodeId },
      { __typename: 'Job', namespace: 'default', jobId: 'web' },
      { __typename: 'Job', namespace: 'team-b', jobId: 'worker' },
      { __typename: 'ClientNode', nodeId },
    ];
    const response = await entities(representations);

    expect(response.errors).toBeUndefined();
    const job = (namespace: string, jobId: string) => ({
      __typename: 'Job',
      id: encodeGlobalId({ type: 'Job', namespace, id: jobId }),
      namespace,
      jobId,
      name: jobId,
      type: 'service',
    });
    const node = { __typename: 'ClientNode', id: encodeGlobalId({ type: 'ClientNode', id: nodeId }), nodeId, name: 'client-1' };
    expect(response.data?.['_entities']).toEqual([job('default', 'web'), job('team-b', 'web'), node, job('default', 'web'), job('team-b', 'worker'), node]);
    expect(sim.requestCounts()).toEqual({ 'GET /v1/job/:id': 3, 'GET /v1/node/:id': 1 });
  });

  it('should resolve references to what does not exist as null, and a malformed allocation id without asking Nomad', async () => {
    const response = await entities([
      { __typename: 'Allocation', allocId: randomUUID() },
      { __typename: 'Allocation', allocId: 'not-an-allocation-id' },
      { __typename: 'Job', namespace: 'default', jobId: 'no-such-job' },
      { __typename: 'Job', namespace: 'no-such-namespace', jobId: 'web' },
      { __typename: 'ClientNode', nodeId: randomUUID() },
      { __typename: 'Allocation', allocId: allocIds[0] },
    ]);

    expect(response.errors).toBeUndefined();
    const results = response.data?.['_entities'] as ({ allocId: string } | null)[];
    expect(results.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(results[5]?.allocId).toBe(allocIds[0]);
    expect(sim.requestCounts()).toEqual({ 'GET /v1/allocation/:id': 2, 'GET /v1/job/:id': 3, 'GET /v1/node/:id': 1 });
  });

  it('should resolve each entity by each of its keys, both keys naming the same object', async () => {
    const alloc = sim.store.allocs.get(allocIds[60] ?? '');
    if (alloc === undefined) throw new Error('no allocation');
    expect(alloc).toMatchObject({ Namespace: 'team-b', JobID: 'web' });
    expect(sim.store.evals.get(alloc.EvalID)).toBeDefined();
    const byBothKeys: [Record<string, unknown>, Record<string, unknown>][] = [
      [
        { __typename: 'Allocation', allocId: alloc.ID },
        { __typename: 'Allocation', id: encodeGlobalId({ type: 'Allocation', id: alloc.ID }) },
      ],
      [
        { __typename: 'Job', namespace: 'team-b', jobId: 'web' },
        { __typename: 'Job', id: encodeGlobalId({ type: 'Job', namespace: 'team-b', id: 'web' }) },
      ],
      [
        { __typename: 'ClientNode', nodeId: alloc.NodeID },
        { __typename: 'ClientNode', id: encodeGlobalId({ type: 'ClientNode', id: alloc.NodeID }) },
      ],
      [
        { __typename: 'Evaluation', evalId: alloc.EvalID },
        { __typename: 'Evaluation', id: encodeGlobalId({ type: 'Evaluation', id: alloc.EvalID }) },
      ],
    ];
    const response = await entities(byBothKeys.flat());

    expect(response.errors).toBeUndefined();
    const results = response.data?.['_entities'] as (Record<string, unknown> | null)[];
    expect(results).toHaveLength(8);
    expect(results[0]).toMatchObject({
      __typename: 'Allocation',
      id: encodeGlobalId({ type: 'Allocation', id: alloc.ID }),
      allocId: alloc.ID,
      name: alloc.Name,
      jobId: 'web',
      job: { namespace: 'team-b', jobId: 'web' },
    });
    expect(results[2]).toEqual({
      __typename: 'Job',
      id: encodeGlobalId({ type: 'Job', namespace: 'team-b', id: 'web' }),
      namespace: 'team-b',
      jobId: 'web',
      name: 'web',
      type: 'service',
    });
    expect(results[4]).toEqual({ __typename: 'ClientNode', id: encodeGlobalId({ type: 'ClientNode', id: alloc.NodeID }), nodeId: alloc.NodeID, name: alloc.NodeName });
    expect(results[6]).toEqual({
      __typename: 'Evaluation',
      id: encodeGlobalId({ type: 'Evaluation', id: alloc.EvalID }),
      evalId: alloc.EvalID,
      namespace: 'team-b',
      jobId: 'web',
      triggeredBy: sim.store.evals.get(alloc.EvalID)?.TriggeredBy,
    });
    for (let i = 0; i < 8; i += 2) expect(results[i + 1], JSON.stringify(byBothKeys[i / 2]?.[1])).toEqual(results[i]);
    // Two keys of one object are one loader key: each object is read once.
    expect(sim.requestCounts()).toEqual({ 'GET /v1/allocation/:id': 1, 'GET /v1/job/:id': 1, 'GET /v1/node/:id': 1, 'GET /v1/evaluation/:id': 1 });
  });

  it('should resolve a malformed key to null without asking Nomad', async () => {
    const [someAlloc = ''] = allocIds;
    const jobId = encodeGlobalId({ type: 'Job', namespace: 'default', id: 'web' });
    const allocGlobalId = encodeGlobalId({ type: 'Allocation', id: someAlloc });
    const malformed = [
      { __typename: 'Allocation', id: 'not-a-global-id' },
      { __typename: 'Allocation', id: someAlloc }, // Nomad's id under the global-id key
      { __typename: 'Allocation', id: jobId }, // another type's global id
      { __typename: 'Allocation', id: `${allocGlobalId}=` }, // padded
      { __typename: 'Allocation', allocId: 'not-an-allocation-id' },
      { __typename: 'Allocation', allocId: someAlloc.slice(0, 8) }, // a prefix is no key
      { __typename: 'Job', id: 'not-a-global-id' },
      { __typename: 'Job', id: allocGlobalId },
      { __typename: 'ClientNode', id: jobId },
      { __typename: 'ClientNode', nodeId: 'not-a-node-id' },
      { __typename: 'Evaluation', id: allocGlobalId },
      { __typename: 'Evaluation', evalId: 'not-an-eval-id' },
      { __typename: 'Job', namespace: '', jobId: 'web' }, // no namespace: not the default one
      { __typename: 'Job', namespace: 'a/b', jobId: 'web' }, // a name Nomad forbids
      { __typename: 'Job', namespace: 'default', jobId: '' },
    ];
    const response = await entities(malformed);

    expect(response.errors).toBeUndefined();
    expect(response.data?.['_entities']).toEqual(malformed.map(() => null));
    expect(sim.requestCounts()).toEqual({});
    expect(log.ids).toEqual([]);
  });

  it('should make every _entities read with the caller\'s token', async () => {
    const secured = await startSimulator({ acl: true, timing: { schedulerMs: 5, clientMs: 5 } });
    const client = createNomadClient({ address: secured.url });
    const securedApp = createGatewayApp(client);
    try {
      const { url: securedUrl } = await securedApp.start(0);
      const { allocations } = secured.cluster.createJob({ id: 'web', count: 1 });
      await secured.cluster.idle();
      const reader = secured.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
      const call = async (headers: Record<string, string>) => {
        const response = await fetch(`${securedUrl}/subgraph`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: ENTITIES, variables: { representations: [{ __typename: 'Allocation', allocId: allocations[0]?.ID }, { __typename: 'Job', namespace: 'default', jobId: 'web' }] } }),
        });
        return (await response.json()) as Omit<GraphQLResponse, 'status'>;
      };

      const allowed = await call({ 'x-nomad-token': reader });
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data?.['_entities']).toMatchObject([{ allocId: allocations[0]?.ID }, { namespace: 'default', jobId: 'web' }]);

      const anonymous = await call({});
      expect(anonymous.data?.['_entities']).toEqual([null, null]);
      expect(anonymous.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    } finally {
      await securedApp.stop();
      await client.close();
      await secured.stop();
    }
  });
});
