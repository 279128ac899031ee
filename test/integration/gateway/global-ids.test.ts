import { randomUUID } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/error-codes.ts';
import type { Allocation } from '../../../src/nomad/types.ts';
import { encodeGlobalId } from '../../../src/schema/global-id.ts';
import type { Simulator } from '../../../src/simulator/server.ts';
import { useGatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';
import { emptyReadLog, LOADER_READ_CONCURRENCY, recordingClient, resetReadLog } from '../../helpers/recording-nomad.ts';

/**
 * Relay's Global Object Identification against a real gateway over the simulator's demo cluster
 * (namespaces default, prod and staging, and a `payments` job in both prod and staging): `id` is
 * a global id, `node(id:)` and `nodes(ids:)` find objects again by it, and `allocation(id:)` and
 * the mutations accept an allocation's global id. Expected values come from the simulator's
 * store or from `encodeGlobalId`, never from the gateway's own answers alone.
 */

/** The same fields for each type, whether reached directly or through `node`. */
const FRAGMENTS = /* GraphQL */ `
  fragment A on Allocation { id allocId name namespace jobId jobVersion clientStatus createIndex }
  fragment J on Job { id jobId namespace name type version status createIndex }
  fragment C on ClientNode { id nodeId name datacenter status createIndex }
  fragment E on Evaluation { id evalId namespace jobId triggeredBy status createIndex }
`;

const DIRECT = `query Direct($id: ID!) { allocation(id: $id) { ...A job { ...J } node { ...C } evaluation { ...E } } } ${FRAGMENTS}`;
const NODE = `query Node($id: ID!) { node(id: $id) { __typename ...A ...J ...C ...E } } ${FRAGMENTS}`;
const NODES = `query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename ...A ...J ...C ...E } } ${FRAGMENTS}`;

type Json = Record<string, unknown>;

function codes(response: GraphQLResponse): unknown[] {
  return (response.errors ?? []).map((e) => e.extensions?.['code']);
}

/**
 * `[path, code]` of every error, for exact comparison, in path order: list items resolve
 * concurrently, so their errors arrive in the order their reads finish.
 */
function errorsOf(response: GraphQLResponse): [unknown, unknown][] {
  const byPath = (e: { path?: (string | number)[] }): string => (e.path ?? []).map((p) => (typeof p === 'number' ? String(p).padStart(6, '0') : p)).join('.');
  return [...(response.errors ?? [])].sort((x, y) => byPath(x).localeCompare(byPath(y))).map((e) => [e.path, e.extensions?.['code']]);
}

/** The data of a response that must have no error. */
function dataOf(response: GraphQLResponse): Json {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return asRecord(response.data);
}

function nullableRecord(value: unknown): Json | null {
  return value === null ? null : asRecord(value);
}

const allocGid = (id: string): string => encodeGlobalId({ type: 'Allocation', id });
const jobGid = (namespace: string, id: string): string => encodeGlobalId({ type: 'Job', namespace, id });

/** Running allocations of the store whose tasks all run, oldest first: safe to restart. */
function runningAllocs(sim: Simulator, namespace?: string): Allocation[] {
  return [...sim.store.allocs.values()]
    .filter((a) => (namespace === undefined || a.Namespace === namespace) && a.ClientStatus === 'running' && a.DesiredStatus === 'run')
    .filter((a) => Object.values(a.TaskStates ?? {}).every((s) => s.State === 'running'))
    .sort((a, b) => (a.CreateIndex < b.CreateIndex ? -1 : a.CreateIndex > b.CreateIndex ? 1 : a.ID < b.ID ? -1 : 1));
}

describe('global ids, node and nodes', () => {
  const log = emptyReadLog();
  const stack = useGatewayStack({ simulator: { scenario: 'demo' }, wrapNomad: (nomad) => recordingClient(nomad, log) });
  const sim = (): Simulator => stack().sim;

  beforeAll(async () => {
    await sim().cluster.idle();
  });

  beforeEach(() => {
    sim().resetRequestCounts();
    resetReadLog(log);
  });

  /** An allocation of `prod/payments`, which has a twin job id in staging. */
  function prodPaymentsAlloc(): Allocation {
    const [alloc] = runningAllocs(sim(), 'prod').filter((a) => a.JobID === 'payments');
    if (alloc === undefined) throw new Error('no running prod/payments allocation');
    return alloc;
  }

  describe('node(id:)', () => {
    it('should find an allocation, its job, its client node and its evaluation again by the id a query returned, with the same fields', async () => {
      const alloc = prodPaymentsAlloc();
      const direct = asRecord(dataOf(await stack().graphql(DIRECT, { id: alloc.ID }))['allocation']);
      const { job, node, evaluation, ...allocationFields } = direct;
      expect(allocationFields).toMatchObject({ allocId: alloc.ID, namespace: 'prod', jobId: 'payments' });
      expect(job).toMatchObject({ jobId: 'payments', namespace: 'prod' });
      expect(node).toMatchObject({ nodeId: alloc.NodeID, name: alloc.NodeName });
      expect(evaluation).toMatchObject({ evalId: alloc.EvalID, namespace: 'prod', jobId: 'payments' });

      const expected: [string, Json][] = [
        ['Allocation', allocationFields],
        ['Job', asRecord(job)],
        ['ClientNode', asRecord(node)],
        ['Evaluation', asRecord(evaluation)],
      ];
      for (const [typename, fields] of expected) {
        const found = dataOf(await stack().graphql(NODE, { id: fields['id'] }))['node'];
        expect(found, typename).toEqual({ __typename: typename, ...fields });
      }
    });

    it('should give each object the global id of its type and Nomad key, distinct from Nomad\'s own id', async () => {
      const alloc = prodPaymentsAlloc();
      const direct = asRecord(dataOf(await stack().graphql(DIRECT, { id: alloc.ID }))['allocation']);
      const ids = {
        allocation: direct['id'],
        job: asRecord(direct['job'])['id'],
        node: asRecord(direct['node'])['id'],
        evaluation: asRecord(direct['evaluation'])['id'],
      };
      expect(ids).toEqual({
        allocation: allocGid(alloc.ID),
        job: jobGid('prod', 'payments'),
        node: encodeGlobalId({ type: 'ClientNode', id: alloc.NodeID }),
        evaluation: encodeGlobalId({ type: 'Evaluation', id: alloc.EvalID }),
      });
      expect(new Set(Object.values(ids)).size).toBe(4);
      for (const id of Object.values(ids)) expect([alloc.ID, alloc.NodeID, alloc.EvalID, 'payments']).not.toContain(id);
    });

    it('should answer null, without an error, for a well-formed id of something that does not exist', async () => {
      for (const id of [
        allocGid(randomUUID()),
        jobGid('prod', 'no-such-job'),
        jobGid('no-such-namespace', 'payments'),
        encodeGlobalId({ type: 'ClientNode', id: randomUUID() }),
        encodeGlobalId({ type: 'Evaluation', id: randomUUID() }),
      ]) {
        const response = await stack().graphql(NODE, { id });
        expect(response.errors, id).toBeUndefined();
        expect(response.data).toEqual({ node: null });
      }
    });

    it('should answer null for the id of a job that was purged since', async () => {
      const { allocations } = sim().cluster.createJob({ id: 'doomed', namespace: 'staging' });
      await sim().cluster.idle();
      const read = dataOf(await stack().graphql('query($id: ID!) { allocation(id: $id) { job { id } } }', { id: allocations[0]?.ID }));
      const id = asRecord(asRecord(read['allocation'])['job'])['id'];
      expect(id).toBe(jobGid('staging', 'doomed'));
      expect(dataOf(await stack().graphql(NODE, { id }))['node']).toMatchObject({ __typename: 'Job', jobId: 'doomed' });

      sim().cluster.purgeJob('doomed', 'staging');
      await sim().cluster.idle();
      const after = await stack().graphql(NODE, { id });
      expect(after.errors).toBeUndefined();
      expect(after.data).toEqual({ node: null });
    });

    it('should refuse an id this API did not issue with BAD_USER_INPUT, without calling Nomad', async () => {
      const alloc = prodPaymentsAlloc();
      for (const id of [
        'not-an-id',
        '',
        alloc.ID, // Nomad's id is not a global id
        alloc.ID.slice(0, 8),
        `${allocGid(alloc.ID)}=`,
        Buffer.from(`Node:${alloc.NodeID}`).toString('base64url'), // the type's old name
        Buffer.from(`Allocation:${alloc.ID.toUpperCase()}`).toString('base64url'),
        Buffer.from('Job:pro_d/payments').toString('base64url'),
      ]) {
        const response = await stack().graphql(NODE, { id });
        expect(response.data, id).toEqual({ node: null });
        expect(errorsOf(response), id).toEqual([[['node'], ErrorCode.BAD_USER_INPUT]]);
        expect(response.errors?.[0]?.extensions?.['field']).toBe('id');
      }
      expect(sim().requestCounts()).toEqual({});
    });
  });

  describe('nodes(ids:)', () => {
    it('should keep the order given, with null for what does not exist and an error at the position of an invalid id', async () => {
      const alloc = prodPaymentsAlloc();
      const ids = [
        jobGid('prod', 'payments'),
        allocGid(alloc.ID),
        'not-an-id',
        allocGid(randomUUID()),
        encodeGlobalId({ type: 'ClientNode', id: alloc.NodeID }),
        encodeGlobalId({ type: 'Evaluation', id: alloc.EvalID }),
        allocGid(alloc.ID),
      ];
      const response = await stack().graphql(NODES, { ids });
      const results = asArray(asRecord(response.data)['nodes']).map(nullableRecord);
      expect(results.map((r) => (r === null ? null : [r['__typename'], r['id']]))).toEqual([
        ['Job', ids[0]],
        ['Allocation', ids[1]],
        null,
        null,
        ['ClientNode', ids[4]],
        ['Evaluation', ids[5]],
        ['Allocation', ids[6]],
      ]);
      expect(results[0]).toMatchObject({ namespace: 'prod', jobId: 'payments' });
      expect(results[1]).toMatchObject({ allocId: alloc.ID });
      expect(results[4]).toMatchObject({ nodeId: alloc.NodeID });
      expect(results[5]).toMatchObject({ evalId: alloc.EvalID });
      expect(errorsOf(response)).toEqual([[['nodes', 2], ErrorCode.BAD_USER_INPUT]]);
    });

    it('should answer an empty list for no ids, without calling Nomad', async () => {
      expect(dataOf(await stack().graphql(NODES, { ids: [] }))).toEqual({ nodes: [] });
      expect(sim().requestCounts()).toEqual({});
    });

    it('should take 100 ids and refuse 101 with BAD_USER_INPUT, without calling Nomad', async () => {
      const ids = [...sim().store.allocs.keys()].slice(0, 101).map(allocGid);
      expect(ids).toHaveLength(101);
      const tooMany = await stack().graphql(NODES, { ids });
      expect(tooMany.data).toBeNull();
      expect(codes(tooMany)).toEqual([ErrorCode.BAD_USER_INPUT]);
      expect(tooMany.errors?.[0]?.message).toContain('100');
      expect(sim().requestCounts()).toEqual({});

      const hundred = dataOf(await stack().graphql(NODES, { ids: ids.slice(0, 100) }));
      expect(asArray(hundred['nodes']).map((n) => asRecord(n)['id'])).toEqual(ids.slice(0, 100));
    });

    it('should read 50 allocations in one loader batch, and a repeated id once', async () => {
      const uuids = [...sim().store.allocs.keys()].slice(0, 50);
      const ids = [...uuids, ...uuids.slice(0, 10)].map(allocGid);
      const response = await stack().graphql('query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Allocation { allocId } } }', { ids });
      const results = asArray(dataOf(response)['nodes']).map(asRecord);
      expect(results.map((r) => r['allocId'])).toEqual([...uuids, ...uuids.slice(0, 10)]);

      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocation/:id': 50 });
      expect([...log.ids].sort()).toEqual([...uuids].sort());
      // One batch: its first wave starts together, bounded by the loader's concurrency. One id at
      // a time would give 1.
      expect(log.startedBeforeFirstSettled).toBe(LOADER_READ_CONCURRENCY);
      expect(log.maxInFlight).toBe(LOADER_READ_CONCURRENCY);
    });
  });

  describe('ids across namespaces', () => {
    it('should give the payments jobs of prod and staging different ids and the same jobId, and find each in its own namespace', async () => {
      expect(sim().store.job('prod', 'payments')).toBeDefined();
      expect(sim().store.job('staging', 'payments')).toBeDefined();
      const response = await stack().graphql(
        '{ allocations(namespace: "*", where: { jobId: "payments" }, first: 500) { edges { node { namespace job { id jobId namespace } } } } }',
      );
      const edges = asArray(asRecord(dataOf(response)['allocations'])['edges']).map((e) => asRecord(asRecord(e)['node']));
      const jobs = new Map(edges.map((n) => [String(n['namespace']), asRecord(n['job'])]));
      expect([...jobs.keys()].sort()).toEqual(['prod', 'staging']);
      const prod = jobs.get('prod') ?? {};
      const staging = jobs.get('staging') ?? {};
      expect(prod['jobId']).toBe('payments');
      expect(staging['jobId']).toBe('payments');
      expect(prod['id']).not.toBe(staging['id']);

      for (const [namespace, job] of jobs) {
        const found = dataOf(await stack().graphql(NODE, { id: job['id'] }))['node'];
        expect(found).toMatchObject({ __typename: 'Job', id: job['id'], jobId: 'payments', namespace });
        const stored = sim().store.job(namespace, 'payments');
        expect(asRecord(found)['createIndex']).toBe(String(stored?.CreateIndex));
      }
    });
  });

  describe('allocation(id:) and the mutations', () => {
    it('should find an allocation by its global id, with or without surrounding spaces', async () => {
      const alloc = prodPaymentsAlloc();
      for (const id of [allocGid(alloc.ID), ` ${allocGid(alloc.ID)} `]) {
        const found = dataOf(await stack().graphql('query($id: ID!) { allocation(id: $id) { id allocId namespace } }', { id }));
        expect(found).toEqual({ allocation: { id: allocGid(alloc.ID), allocId: alloc.ID, namespace: 'prod' } });
      }
    });

    it('should refuse the global id of another type in allocation(id:) with BAD_USER_INPUT, even when it carries an allocation\'s UUID', async () => {
      const alloc = prodPaymentsAlloc();
      for (const id of [
        jobGid('prod', 'payments'),
        encodeGlobalId({ type: 'ClientNode', id: alloc.ID }),
        encodeGlobalId({ type: 'Evaluation', id: alloc.ID }),
      ]) {
        const response = await stack().graphql('query($id: ID!) { allocation(id: $id) { allocId } }', { id });
        expect(response.data, id).toEqual({ allocation: null });
        expect(errorsOf(response), id).toEqual([[['allocation'], ErrorCode.BAD_USER_INPUT]]);
      }
      expect(sim().requestCounts()).toEqual({});
    });

    it('should restart an allocation named by its global id', async () => {
      const [alloc] = runningAllocs(sim(), 'default');
      if (alloc === undefined) throw new Error('no running allocation in default');
      const before = Object.fromEntries(Object.entries(alloc.TaskStates ?? {}).map(([name, state]) => [name, state.Restarts]));
      expect(Object.keys(before).length).toBeGreaterThan(0);

      const response = await stack().graphql(
        'mutation($id: ID!) { restartAllocation(input: { id: $id, allTasks: true }) { allocation { id allocId } } }',
        { id: allocGid(alloc.ID) },
      );
      expect(dataOf(response)).toEqual({ restartAllocation: { allocation: { id: allocGid(alloc.ID), allocId: alloc.ID } } });
      await sim().cluster.idle();
      const after = sim().store.allocs.get(alloc.ID)?.TaskStates ?? {};
      for (const [name, restarts] of Object.entries(before)) expect(after[name]?.Restarts, name).toBe(restarts + 1);
    });

    it('should refuse the global id of another type in every mutation with BAD_USER_INPUT, without calling Nomad', async () => {
      const [alloc] = runningAllocs(sim(), 'default');
      if (alloc === undefined) throw new Error('no running allocation in default');
      const restartsBefore = Object.values(alloc.TaskStates ?? {}).map((s) => s.Restarts);
      const modifyIndexBefore = alloc.ModifyIndex;
      const wrongIds = [jobGid(alloc.Namespace, alloc.JobID), encodeGlobalId({ type: 'ClientNode', id: alloc.ID })];
      for (const id of wrongIds) {
        for (const [name, mutation] of [
          ['stopAllocation', 'mutation($id: ID!) { stopAllocation(input: { id: $id }) { evalId } }'],
          ['signalAllocation', 'mutation($id: ID!) { signalAllocation(input: { id: $id, signal: "SIGHUP" }) { allocation { id } } }'],
          ['restartAllocation', 'mutation($id: ID!) { restartAllocation(input: { id: $id }) { allocation { id } } }'],
        ] as const) {
          const response = await stack().graphql(mutation, { id });
          expect(response.data, `${name} ${id}`).toBeNull();
          expect(errorsOf(response)).toEqual([[[name], ErrorCode.BAD_USER_INPUT]]);
          expect(response.errors?.[0]?.extensions?.['field']).toBe('id');
        }
      }
      expect(sim().requestCounts()).toEqual({});
      const now = sim().store.allocs.get(alloc.ID);
      expect(now?.ModifyIndex).toBe(modifyIndexBefore);
      expect(Object.values(now?.TaskStates ?? {}).map((s) => s.Restarts)).toEqual(restartsBefore);
      expect(now?.DesiredTransition.Migrate).not.toBe(true);
    });
  });
});

describe('global ids under ACLs', () => {
  const stack = useGatewayStack({ simulator: { acl: true, scenario: 'demo' } });
  let prodReader = '';
  /** The staging payments job's meta, which must not reach a prod-only caller. */
  const STAGING_SECRET = 'payments-team';

  beforeAll(async () => {
    await stack().sim.cluster.idle();
    prodReader = stack().sim.acl.createToken({ namespaces: { prod: { policy: 'read' } } }).SecretID;
    expect(JSON.stringify(stack().sim.store.job('staging', 'payments')?.Meta)).toContain(STAGING_SECRET);
  });

  const asProdReader = (query: string, variables: Record<string, unknown>): Promise<GraphQLResponse> =>
    stack().graphql(query, variables, { 'X-Nomad-Token': prodReader });

  function allocIn(namespace: string): Allocation {
    const alloc = [...stack().sim.store.allocs.values()].find((a) => a.Namespace === namespace && a.JobID === 'payments');
    if (alloc === undefined) throw new Error(`no payments allocation in ${namespace}`);
    return alloc;
  }

  it('should find a job of a namespace the token can read', async () => {
    const found = dataOf(await asProdReader(NODE, { id: jobGid('prod', 'payments') }))['node'];
    expect(found).toMatchObject({ __typename: 'Job', namespace: 'prod', jobId: 'payments' });
  });

  it('should answer FORBIDDEN, with no data, for a job of another namespace, whether or not it exists', async () => {
    for (const id of [jobGid('staging', 'payments'), jobGid('staging', 'no-such-job')]) {
      const response = await asProdReader(NODE, { id });
      expect(response.data).toEqual({ node: null });
      expect(errorsOf(response)).toEqual([[['node'], ErrorCode.FORBIDDEN]]);
      expect(JSON.stringify(response)).not.toContain(STAGING_SECRET);
      expect(response.errors?.[0]?.message).not.toContain('staging');
    }
  });

  it('should answer FORBIDDEN for an allocation and an evaluation of another namespace, and keep what the token can read', async () => {
    const staging = allocIn('staging');
    const prod = allocIn('prod');
    const ids = [
      jobGid('prod', 'payments'),
      jobGid('staging', 'payments'),
      allocGid(staging.ID),
      encodeGlobalId({ type: 'Evaluation', id: staging.EvalID }),
      allocGid(prod.ID),
      encodeGlobalId({ type: 'Evaluation', id: prod.EvalID }),
    ];
    const response = await asProdReader(NODES, { ids });
    const results = asArray(asRecord(response.data)['nodes']).map(nullableRecord);
    expect(results.map((r) => (r === null ? null : [r['__typename'], r['namespace']]))).toEqual([
      ['Job', 'prod'],
      null,
      null,
      null,
      ['Allocation', 'prod'],
      ['Evaluation', 'prod'],
    ]);
    expect(errorsOf(response)).toEqual([
      [['nodes', 1], ErrorCode.FORBIDDEN],
      [['nodes', 2], ErrorCode.FORBIDDEN],
      [['nodes', 3], ErrorCode.FORBIDDEN],
    ]);
    const text = JSON.stringify(response);
    expect(text).not.toContain(STAGING_SECRET);
    expect(text).not.toContain('"staging"');
    expect(text).not.toContain(prodReader);
  });

  it('should answer FORBIDDEN for a client node without node:read', async () => {
    const response = await asProdReader(NODE, { id: encodeGlobalId({ type: 'ClientNode', id: allocIn('prod').NodeID }) });
    expect(response.data).toEqual({ node: null });
    expect(errorsOf(response)).toEqual([[['node'], ErrorCode.FORBIDDEN]]);
  });
});
