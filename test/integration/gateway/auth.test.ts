import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/error-codes.ts';
import { useGatewayStack, type GatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';

type Style = 'x-nomad-token' | 'bearer';

function headersFor(token: string | undefined, style: Style): Record<string, string> {
  if (token === undefined) return {};
  return style === 'x-nomad-token' ? { 'X-Nomad-Token': token } : { Authorization: `Bearer ${token}` };
}

function codes(response: GraphQLResponse): unknown[] {
  return (response.errors ?? []).map((e) => e.extensions?.['code']);
}

function edgesOf(response: GraphQLResponse): { allocId: string; namespace: string; job?: { jobId: string; namespace: string } | null }[] {
  const connection = response.data?.['allocations'] as { edges: { node: { allocId: string; namespace: string } }[] } | undefined;
  return (connection?.edges ?? []).map((e) => e.node);
}

/**
 * A caller of one stack that checks, on every response, that no secret it knows of appears
 * anywhere in the errors (messages, paths, extensions).
 */
function caller(stack: () => GatewayStack, secrets: () => string[]) {
  return async (query: string, variables: Record<string, unknown>, token: string | undefined, style: Style = 'x-nomad-token') => {
    const response = await stack().graphql(query, variables, headersFor(token, style));
    const errorText = JSON.stringify(response.errors ?? []);
    for (const secret of secrets()) expect(errorText).not.toContain(secret);
    return response;
  };
}

const LIST = 'query($ns: String) { allocations(namespace: $ns) { edges { node { allocId namespace } } } }';
const LIST_WITH_JOBS = 'query($ns: String) { allocations(namespace: $ns) { edges { node { allocId namespace job { jobId namespace } } } } }';
const READ = 'query($id: ID!) { allocation(id: $id) { allocId namespace jobId } }';
const STOP = 'mutation($id: ID!) { stopAllocation(input: { id: $id }) { evalId allocation { allocId desiredTransition { migrate } } } }';

describe('gateway auth with Nomad ACLs on', () => {
  const stack = useGatewayStack({ simulator: { acl: true } });
  const tokens = {
    readDefault: '',
    lifecycleDefault: '',
    teamA: '',
    teamB: '',
    nodeReader: '',
  };
  const ids = { web: '', stoppable: '', teamA: [] as string[], teamB: [] as string[] };
  const secrets = (): string[] => [...Object.values(tokens), stack().sim.acl.managementToken.SecretID].filter((t) => t !== '');
  const gql = caller(stack, secrets);

  beforeAll(async () => {
    const { sim } = stack();
    const create = (spec: Parameters<typeof sim.acl.createToken>[0]): string => sim.acl.createToken(spec).SecretID;
    tokens.readDefault = create({ namespaces: { default: { policy: 'read' } } });
    tokens.lifecycleDefault = create({ namespaces: { default: { capabilities: ['read-job', 'alloc-lifecycle'] } } });
    tokens.teamA = create({ namespaces: { 'team-a': { policy: 'read' } } });
    tokens.teamB = create({ namespaces: { 'team-b': { policy: 'read' } } });
    tokens.nodeReader = create({ namespaces: { default: { policy: 'read' } }, node: 'read' });
    ids.web = sim.cluster.createJob({ id: 'web', groups: [{ name: 'web', count: 1, tasks: [{ name: 'server' }] }] }).allocations[0]?.ID ?? '';
    ids.stoppable = sim.cluster.createJob({ id: 'stoppable', groups: [{ name: 'g', count: 1, tasks: [{ name: 'server' }] }] })
      .allocations[0]?.ID ?? '';
    ids.teamA = sim.cluster.createJob({ id: 'a-job', namespace: 'team-a', count: 2 }).allocations.map((a) => a.ID);
    ids.teamB = sim.cluster.createJob({ id: 'b-job', namespace: 'team-b', count: 2 }).allocations.map((a) => a.ID);
    await sim.cluster.idle();
  });

  for (const style of ['x-nomad-token', 'bearer'] as const) {
    it(`should send the caller's ${style} token to Nomad: a read-only token lists but cannot stop (FORBIDDEN)`, async () => {
      const listed = await gql(LIST, {}, tokens.readDefault, style);
      expect(listed.errors).toBeUndefined();
      expect(edgesOf(listed).map((a) => a.allocId).sort()).toEqual([ids.web, ids.stoppable].sort());

      const stopped = await gql(STOP, { id: ids.web }, tokens.readDefault, style);
      expect(stopped.data).toBeNull();
      expect(codes(stopped)).toEqual([ErrorCode.FORBIDDEN]);
      expect(stopped.errors?.[0]?.extensions?.['upstreamStatus']).toBe(403);
      expect(stack().sim.store.allocs.get(ids.web)?.DesiredTransition.Migrate).not.toBe(true);
    });
  }

  it('should let a token with alloc-lifecycle stop, sent as a lowercase bearer token', async () => {
    const release = stack().sim.cluster.hold();
    let stopped: GraphQLResponse;
    try {
      stopped = await gql(STOP, { id: ids.stoppable }, undefined, 'bearer');
      expect(codes(stopped)).toEqual([ErrorCode.FORBIDDEN]);
      const response = await stack().graphql(STOP, { id: ids.stoppable }, { authorization: `bearer ${tokens.lifecycleDefault}` });
      expect(response.errors).toBeUndefined();
      expect(response.data).toMatchObject({ stopAllocation: { allocation: { allocId: ids.stoppable, desiredTransition: { migrate: true } } } });
    } finally {
      release();
    }
    await stack().sim.cluster.idle();
  });

  it('should report a stop that took effect when the token may act but not read, with a field error on allocation', async () => {
    const lifecycleOnly = stack().sim.acl.createToken({ namespaces: { default: { capabilities: ['alloc-lifecycle'] } } }).SecretID;
    const { allocations } = stack().sim.cluster.createJob({ id: 'act-not-read' });
    await stack().sim.cluster.idle();
    const id = allocations[0]?.ID ?? '';
    const release = stack().sim.cluster.hold();
    let response: GraphQLResponse;
    try {
      response = await gql('mutation($id: ID!) { stopAllocation(input: { id: $id }) { evalId index allocation { id } } }', { id }, lifecycleOnly);
    } finally {
      release();
    }
    const payload = response.data?.['stopAllocation'] as { evalId: string; index: string; allocation: unknown } | undefined;
    expect(payload?.evalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(BigInt(payload?.index ?? '0')).toBeGreaterThan(0n);
    expect(stack().sim.store.allocs.get(id)?.DesiredTransition.Migrate).toBe(true);
    expect(stack().sim.store.evals.get(payload?.evalId ?? '')?.TriggeredBy).toBe('alloc-stop');
    expect(payload?.allocation).toBeNull();
    expect(response.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[['stopAllocation', 'allocation'], ErrorCode.FORBIDDEN]]);
    expect(JSON.stringify(response)).not.toContain(lifecycleOnly);

    const restarted = await gql('mutation($id: ID!) { restartAllocation(input: { id: $id, allTasks: true }) { allocation { id } } }', { id: ids.web }, lifecycleOnly);
    expect(restarted.data).toEqual({ restartAllocation: { allocation: null } });
    expect(restarted.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[['restartAllocation', 'allocation'], ErrorCode.FORBIDDEN]]);
    expect(stack().sim.store.allocs.get(ids.web)?.TaskStates?.['server']?.Restarts).toBe(1);
    await stack().sim.cluster.idle();
  });

  it('should answer FORBIDDEN (403) for a token that no HTTP header to Nomad can carry, without echoing it', async () => {
    const cases: Record<string, string>[] = [
      { 'X-Nomad-Token': 'has a space' },
      { 'X-Nomad-Token': `${tokens.readDefault}\u00e9` },
      { Authorization: 'Bearer t\u00f6ken' },
    ];
    for (const headers of cases) {
      const response = await stack().graphql(LIST, {}, headers);
      expect(response.status).toBe(403);
      expect(response.data).toBeUndefined();
      expect(codes(response)).toEqual([ErrorCode.FORBIDDEN]);
      const text = JSON.stringify(response);
      for (const value of Object.values(headers)) expect(text).not.toContain(value.replace(/^Bearer /, ''));
    }
  });

  it('should act as anonymous, with no rights, when neither the caller nor the gateway has a token', async () => {
    const response = await gql(LIST, {}, undefined);
    expect(response.data).toBeNull();
    expect(codes(response)).toEqual([ErrorCode.FORBIDDEN]);
  });

  it('should answer FORBIDDEN for a namespace the token has no rights in, and list only readable ones with *', async () => {
    const other = await gql(LIST, { ns: 'team-b' }, tokens.teamA);
    expect(other.data).toBeNull();
    expect(codes(other)).toEqual([ErrorCode.FORBIDDEN]);

    const all = await gql(LIST, { ns: '*' }, tokens.teamA);
    expect(all.errors).toBeUndefined();
    expect(edgesOf(all).map((a) => a.allocId).sort()).toEqual([...ids.teamA].sort());
  });

  it('should keep concurrent callers with different tokens apart (nothing cached is shared)', async () => {
    const [aId, bId] = [ids.teamA[0], ids.teamB[0]];
    const query = /* GraphQL */ `
      query Mixed($a: ID!, $b: ID!) {
        allocations(namespace: "*") { edges { node { allocId namespace job { jobId namespace } } } }
        a: allocation(id: $a) { allocId namespace job { jobId namespace } }
        b: allocation(id: $b) { allocId namespace job { jobId namespace } }
      }
    `;
    const who = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'team-a' : 'team-b'));
    const responses = await Promise.all(
      who.map((ns, i) => gql(query, { a: aId, b: bId }, ns === 'team-a' ? tokens.teamA : tokens.teamB, i % 4 < 2 ? 'x-nomad-token' : 'bearer')),
    );
    responses.forEach((response, i) => {
      const own = who[i];
      const ownIds = own === 'team-a' ? ids.teamA : ids.teamB;
      const [ownAlias, otherAlias] = own === 'team-a' ? ['a', 'b'] : ['b', 'a'];
      const listed = edgesOf(response);
      expect(listed.map((a) => a.allocId).sort()).toEqual([...ownIds].sort());
      for (const alloc of listed) expect(alloc.job).toEqual({ jobId: own === 'team-a' ? 'a-job' : 'b-job', namespace: own });
      expect(response.data?.[ownAlias]).toMatchObject({ namespace: own, job: { namespace: own } });
      // Nomad hides the other namespace's allocation with a 500 `Unknown allocation`.
      expect(response.data?.[otherAlias]).toBeNull();
      expect(response.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[[otherAlias], ErrorCode.FORBIDDEN]]);
      expect(JSON.stringify(response.data)).not.toContain(own === 'team-a' ? 'team-b' : 'team-a');
    });
  });

  it('should answer FORBIDDEN, not UPSTREAM_UNAVAILABLE, for an allocation in a namespace the token cannot read', async () => {
    const response = await gql(READ, { id: ids.teamB[0] }, tokens.teamA);
    expect(response.data).toEqual({ allocation: null });
    expect(codes(response)).toEqual([ErrorCode.FORBIDDEN]);
    expect(response.errors?.[0]?.extensions?.['upstreamStatus']).toBe(500);
    // With a prefix the lookup lists `*`, where Nomad skips what the token cannot read: no match.
    const byPrefix = await gql(READ, { id: ids.teamB[0]?.slice(0, 8) }, tokens.teamA);
    expect(byPrefix.errors).toBeUndefined();
    expect(byPrefix.data).toEqual({ allocation: null });
  });

  it('should answer FORBIDDEN for an unknown or malformed token, everywhere', async () => {
    for (const bad of [randomUUID(), 'not-a-real-token', `${tokens.teamA}x`]) {
      for (const style of ['x-nomad-token', 'bearer'] as const) {
        const list = await gql(LIST, {}, bad, style);
        expect([list.data, codes(list)]).toEqual([null, [ErrorCode.FORBIDDEN]]);
        const read = await gql(READ, { id: ids.web }, bad, style);
        expect([read.data, codes(read)]).toEqual([{ allocation: null }, [ErrorCode.FORBIDDEN]]);
        const stop = await gql(STOP, { id: ids.web }, bad, style);
        expect([stop.data, codes(stop)]).toEqual([null, [ErrorCode.FORBIDDEN]]);
        for (const response of [list, read, stop]) expect(JSON.stringify(response)).not.toContain(bad);
      }
    }
  });

  it('should answer node as a FORBIDDEN field error without node:read, keeping the rest of the data', async () => {
    const query = 'query($id: ID!) { allocation(id: $id) { allocId jobId node { nodeId status } } }';
    const denied = await gql(query, { id: ids.web }, tokens.readDefault);
    expect(denied.data).toEqual({ allocation: { allocId: ids.web, jobId: 'web', node: null } });
    expect(denied.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[['allocation', 'node'], ErrorCode.FORBIDDEN]]);

    const allowed = await gql(query, { id: ids.web }, tokens.nodeReader);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data).toMatchObject({ allocation: { allocId: ids.web, node: { status: 'ready' } } });
  });

  it('should never put a token in an error message or extension', async () => {
    const responses: GraphQLResponse[] = [];
    for (const token of [...Object.values(tokens), randomUUID()]) {
      for (const style of ['x-nomad-token', 'bearer'] as const) {
        responses.push(
          await stack().graphql(LIST_WITH_JOBS, { ns: 'team-b' }, headersFor(token, style)),
          await stack().graphql(READ, { id: ids.teamB[1] }, headersFor(token, style)),
          await stack().graphql('query($id: ID!) { allocation(id: $id) { node { id } } }', { id: ids.web }, headersFor(token, style)),
          await stack().graphql(STOP, { id: ids.teamA[1] }, headersFor(token, style)),
          await stack().graphql('mutation($id: ID!) { signalAllocation(input: { id: $id, signal: "SIGHUP", task: "nope" }) { allocation { id } } }', { id: ids.web }, headersFor(token, style)),
        );
      }
    }
    const errors = responses.flatMap((r) => r.errors ?? []);
    expect(errors.length).toBeGreaterThan(20);
    for (const error of errors) expect(error.extensions?.['code']).toEqual(expect.any(String));
    const text = JSON.stringify(errors);
    for (const secret of secrets()) expect(text).not.toContain(secret);
  });
});

describe('gateway auth with a configured NOMAD_TOKEN', () => {
  const management = randomUUID();
  const stack = useGatewayStack({ simulator: { acl: true, managementToken: management }, defaultToken: management });
  let teamA = '';
  const gql = caller(stack, () => [management, teamA]);

  beforeAll(async () => {
    const { sim } = stack();
    teamA = sim.acl.createToken({ namespaces: { 'team-a': { policy: 'read' } } }).SecretID;
    sim.cluster.createJob({ id: 'web' });
    sim.cluster.createJob({ id: 'a-job', namespace: 'team-a' });
    sim.cluster.createJob({ id: 'b-job', namespace: 'team-b' });
    await sim.cluster.idle();
  });

  it('should act with the gateway\'s token when the caller sends none', async () => {
    const response = await gql(LIST_WITH_JOBS, { ns: '*' }, undefined);
    expect(response.errors).toBeUndefined();
    expect(edgesOf(response).map((a) => a.namespace).sort()).toEqual(['default', 'team-a', 'team-b']);
  });

  for (const style of ['x-nomad-token', 'bearer'] as const) {
    it(`should use the caller's own ${style} token instead of the gateway's`, async () => {
      const response = await gql(LIST_WITH_JOBS, { ns: '*' }, teamA, style);
      expect(response.errors).toBeUndefined();
      expect(edgesOf(response).map((a) => a.namespace)).toEqual(['team-a']);

      const denied = await gql(LIST, { ns: 'team-b' }, teamA, style);
      expect(codes(denied)).toEqual([ErrorCode.FORBIDDEN]);
    });
  }

  it('should not fall back to the gateway\'s token when the caller\'s token is invalid', async () => {
    const response = await gql(LIST, { ns: '*' }, randomUUID());
    expect(response.data).toBeNull();
    expect(codes(response)).toEqual([ErrorCode.FORBIDDEN]);
  });
});
