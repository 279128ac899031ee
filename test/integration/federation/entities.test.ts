import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createGatewayApp, type GraphQLResponse } from '../../helpers/gateway.ts';

/**
 * `_entities` on /subgraph, the way a router calls it, against the real simulator: which upstream
 * calls a batch of references costs. The Nomad client handed to the app records every full
 * allocation read, so the test sees how many run at once as well as how many there are.
 */

/** Most reads one loader batch runs at once (`READ_CONCURRENCY` in src/loaders.ts). */
const LOADER_READ_CONCURRENCY = 16;

interface ReadLog {
  ids: string[];
  inFlight: number;
  maxInFlight: number;
  /** Reads that had started before the first one finished: one batch starts its first wave together. */
  startedBeforeFirstSettled: number;
  settled: number;
}

/** The real client, with `readAllocation` recorded. */
function recordingClient(nomad: NomadClient, log: ReadLog): NomadClient {
  return {
    ...nomad,
    readAllocation: async (id, options) => {
      log.ids.push(id);
      log.inFlight += 1;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      if (log.settled === 0) log.startedBeforeFirstSettled += 1;
      try {
        return await nomad.readAllocation(id, options);
      } finally {
        log.inFlight -= 1;
        log.settled += 1;
      }
    },
  };
}

const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Allocation { id name jobId clientStatus job { namespace id } }
    ... on Job { namespace id name type }
    ... on Node { id name }
  }
}`;

describe('_entities on the subgraph endpoint', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let app: App;
  let url = '';
  const log: ReadLog = { ids: [], inFlight: 0, maxInFlight: 0, startedBeforeFirstSettled: 0, settled: 0 };
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
    Object.assign(log, { ids: [], inFlight: 0, maxInFlight: 0, startedBeforeFirstSettled: 0, settled: 0 });
  });

  it('should resolve 100 Allocation references with one read per distinct id, run as one loader batch', async () => {
    expect(allocIds).toHaveLength(100);
    // The 100 ids, then 20 of them again: a router may send the same reference twice.
    const representations = [...allocIds, ...allocIds.slice(0, 20)].map((id) => ({ __typename: 'Allocation', id }));
    const response = await entities(representations);

    expect(response.errors).toBeUndefined();
    const results = response.data?.['_entities'] as { __typename: string; id: string; jobId: string; job: { namespace: string; id: string } }[];
    expect(results.map((r) => r.id)).toEqual(representations.map((r) => r.id));
    expect(results.every((r) => r.__typename === 'Allocation' && r.job.id === r.jobId)).toBe(true);

    // Nomad has no multi-get: 100 full reads, each id once, and one read per distinct job.
    expect(sim.requestCounts()).toEqual({ 'GET /v1/allocation/:id': 100, 'GET /v1/job/:id': 2 * 2 });
    expect([...log.ids].sort()).toEqual([...allocIds].sort());
    // One batch: its first wave of reads starts together, bounded by the loader's concurrency. One
    // reference at a time would give 1; a read per reference outside the loader would give 100.
    expect(log.startedBeforeFirstSettled).toBe(LOADER_READ_CONCURRENCY);
    expect(log.maxInFlight).toBe(LOADER_READ_CONCURRENCY);
  });

  it('should resolve Job references by namespace and id, and Node references by id, one read per distinct key', async () => {
    const representations = [
      { __typename: 'Job', namespace: 'default', id: 'web' },
      { __typename: 'Job', namespace: 'team-b', id: 'web' },
      { __typename: 'Node', id: nodeId },
      { __typename: 'Job', namespace: 'default', id: 'web' },
      { __typename: 'Job', namespace: 'team-b', id: 'worker' },
      { __typename: 'Node', id: nodeId },
    ];
    const response = await entities(representations);

    expect(response.errors).toBeUndefined();
    expect(response.data?.['_entities']).toEqual([
      { __typename: 'Job', namespace: 'default', id: 'web', name: 'web', type: 'service' },
      { __typename: 'Job', namespace: 'team-b', id: 'web', name: 'web', type: 'service' },
      { __typename: 'Node', id: nodeId, name: 'client-1' },
      { __typename: 'Job', namespace: 'default', id: 'web', name: 'web', type: 'service' },
      { __typename: 'Job', namespace: 'team-b', id: 'worker', name: 'worker', type: 'service' },
      { __typename: 'Node', id: nodeId, name: 'client-1' },
    ]);
    expect(sim.requestCounts()).toEqual({ 'GET /v1/job/:id': 3, 'GET /v1/node/:id': 1 });
  });

  it('should resolve references to what does not exist as null, and a malformed allocation id without asking Nomad', async () => {
    const response = await entities([
      { __typename: 'Allocation', id: randomUUID() },
      { __typename: 'Allocation', id: 'not-an-allocation-id' },
      { __typename: 'Job', namespace: 'default', id: 'no-such-job' },
      { __typename: 'Job', namespace: 'no-such-namespace', id: 'web' },
      { __typename: 'Node', id: randomUUID() },
      { __typename: 'Allocation', id: allocIds[0] },
    ]);

    expect(response.errors).toBeUndefined();
    const results = response.data?.['_entities'] as ({ id: string } | null)[];
    expect(results.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(results[5]?.id).toBe(allocIds[0]);
    expect(sim.requestCounts()).toEqual({ 'GET /v1/allocation/:id': 2, 'GET /v1/job/:id': 3, 'GET /v1/node/:id': 1 });
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
          body: JSON.stringify({ query: ENTITIES, variables: { representations: [{ __typename: 'Allocation', id: allocations[0]?.ID }, { __typename: 'Job', namespace: 'default', id: 'web' }] } }),
        });
        return (await response.json()) as Omit<GraphQLResponse, 'status'>;
      };

      const allowed = await call({ 'x-nomad-token': reader });
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data?.['_entities']).toMatchObject([{ id: allocations[0]?.ID }, { namespace: 'default', id: 'web' }]);

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
