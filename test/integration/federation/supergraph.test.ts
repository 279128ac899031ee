import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayStack, type GatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';
import { OWNERS_SDL, startOwnersSubgraph, type OwnerRecord, type OwnersSubgraph } from './owners-subgraph.ts';

/**
 * The gateway as a Federation v2 subgraph, composed with a second subgraph (job owners) by a real
 * composition library and served by a real federation gateway (Hive Gateway's runtime), all in this
 * process on port 0: Nomad simulator ← nomad gateway `/subgraph` ← Hive Gateway → owners subgraph.
 */

const OWNERS: OwnerRecord[] = [
  { name: 'payments', jobs: [{ namespace: 'default', jobId: 'api' }] },
  { name: 'platform', jobs: [{ namespace: 'default', jobId: 'web' }, { namespace: 'team-b', jobId: 'etl' }] },
];

interface Supergraph {
  url: string;
  sdl: string;
  query(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
  stop(): Promise<void>;
}

async function postGraphQL(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<GraphQLResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse, 'status'>;
  return { status: response.status, ...body };
}

/** Composes the subgraphs and serves the supergraph through Hive Gateway on port 0. */
async function startSupergraph(subgraphs: { name: string; url: string; sdl: string }[]): Promise<Supergraph> {
  const composed = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
  if (composed.errors !== undefined) throw new Error(`composition failed:\n${composed.errors.map((e) => e.message).join('\n')}`);
  const gateway: GatewayRuntime = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    logging: false,
    // Routers forward no client headers unless told to; the Nomad subgraph needs the caller's token.
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({
        'x-nomad-token': request.headers.get('x-nomad-token') ?? undefined,
        authorization: request.headers.get('authorization') ?? undefined,
      }),
    },
  });
  const server: Server = createServer(gateway);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  return {
    url,
    sdl: composed.supergraphSdl,
    query: (query, variables, headers) => postGraphQL(url, query, variables, headers),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await gateway.dispose();
    },
  };
}

interface AllocationNode {
  allocId: string;
  namespace: string;
  jobId: string;
  job: { namespace: string; jobId: string; name: string; owner: { name: string } | null } | null;
}

interface OwnerNode {
  name: string;
  jobs: {
    namespace: string;
    jobId: string;
    name: string;
    status: string;
    allocations: { allocId: string; jobId: string; namespace: string; node: { name: string } | null }[];
  }[];
}

describe('the gateway as a federation subgraph in a supergraph', () => {
  let nomad: GatewayStack & { stop(): Promise<void> };
  let owners: OwnersSubgraph;
  let supergraph: Supergraph;
  let management = '';
  let defaultReader = '';
  const allocIds = new Map<string, string[]>();
  const leftovers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    nomad = await startGatewayStack({ simulator: { acl: true } });
    leftovers.push(() => nomad.stop());
    const { sim } = nomad;
    management = sim.acl.managementToken.SecretID;
    defaultReader = sim.acl.createToken({ namespaces: { default: { policy: 'read' } } }).SecretID;
    for (const spec of [
      { id: 'web', count: 3 },
      { id: 'api', count: 2 },
      { id: 'unowned', count: 1 },
      { id: 'etl', namespace: 'team-b', type: 'batch' as const, count: 2 },
    ]) {
      const { allocations } = sim.cluster.createJob(spec);
      allocIds.set(`${spec.namespace ?? 'default'}/${spec.id}`, allocations.map((a) => a.ID).sort());
    }
    await sim.cluster.idle();

    owners = await startOwnersSubgraph(OWNERS);
    leftovers.push(() => owners.stop());

    // The Nomad subgraph's SDL as a router would fetch it: from `_service { sdl }`.
    const service = await postGraphQL(`${nomad.url}/subgraph`, '{ _service { sdl } }', {}, { 'x-nomad-token': management });
    const sdl = (service.data?.['_service'] as { sdl: string }).sdl;
    supergraph = await startSupergraph([
      { name: 'nomad', url: `${nomad.url}/subgraph`, sdl },
      { name: 'owners', url: owners.url, sdl: OWNERS_SDL },
    ]);
    leftovers.push(() => supergraph.stop());
  });

  afterAll(async () => {
    for (const stop of leftovers.reverse()) await stop();
  });

  it('should answer _service { sdl } on /subgraph with the committed subgraph.graphql', async () => {
    const response = await postGraphQL(`${nomad.url}/subgraph`, '{ _service { sdl } }');
    expect(response.errors).toBeUndefined();
    const committed = readFileSync(new URL('../../../subgraph.graphql', import.meta.url), 'utf8');
    expect(`${(response.data?.['_service'] as { sdl: string }).sdl}\n`).toBe(committed);
  });

  it('should keep /graphql free of federation fields while /subgraph serves them', async () => {
    const plain = await nomad.graphql('{ _service { sdl } }');
    expect(plain.errors?.[0]?.message).toMatch(/Cannot query field "_service" on type "Query"/);
    const plainEntities = await nomad.graphql('{ _entities(representations: []) { __typename } }');
    expect(plainEntities.errors?.[0]?.message).toMatch(/Cannot query field "_entities"/);
    const plainDirectives = await nomad.graphql('{ __schema { directives { name } } }');
    const names = (plainDirectives.data?.['__schema'] as { directives: { name: string }[] }).directives.map((d) => d.name);
    expect(names).not.toContain('key');
    expect(names).not.toContain('link');
  });

  it('should compose with the owners subgraph, the Nomad subgraph owning Allocation, ClientNode, Evaluation and Job by both their keys', () => {
    const joins = (type: string): string[] =>
      [...(supergraph.sdl.match(new RegExp(`\\ntype ${type} [^{]*`))?.[0] ?? '').matchAll(/@join__type\(([^)]*)\)/g)].map((m) => m[1] ?? '');
    expect(joins('Allocation')).toEqual(['graph: NOMAD, key: "id"', 'graph: NOMAD, key: "allocId"']);
    expect(joins('ClientNode')).toEqual(['graph: NOMAD, key: "id"', 'graph: NOMAD, key: "nodeId"']);
    expect(joins('Evaluation')).toEqual(['graph: NOMAD, key: "id"', 'graph: NOMAD, key: "evalId"']);
    expect(joins('Job')).toEqual(['graph: NOMAD, key: "id"', 'graph: NOMAD, key: "namespace jobId"', 'graph: OWNERS, key: "namespace jobId"']);
    expect(supergraph.sdl).toMatch(/\ninterface Node @join__type\(graph: NOMAD\)/);
  });

  it('should resolve allocations with their job\'s owner across both subgraphs', async () => {
    const response = await supergraph.query(
      `{ allocations(namespace: "*", first: 100) { edges { node { allocId namespace jobId job { namespace jobId name owner { name } } } } } }`,
      {},
      { 'x-nomad-token': management },
    );
    expect(response.errors).toBeUndefined();
    const nodes = (response.data?.['allocations'] as { edges: { node: AllocationNode }[] }).edges.map((e) => e.node);
    expect(nodes).toHaveLength(8);
    const ownerByJob = new Map(OWNERS.flatMap((o) => o.jobs.map((j) => [`${j.namespace}/${j.jobId}`, o.name] as const)));
    for (const node of nodes) {
      expect(node.job).toMatchObject({ namespace: node.namespace, jobId: node.jobId, name: node.jobId });
      expect(node.job?.owner?.name ?? null).toBe(ownerByJob.get(`${node.namespace}/${node.jobId}`) ?? null);
    }
    const byJob = (key: string) => nodes.filter((n) => `${n.namespace}/${n.jobId}` === key).map((n) => n.allocId).sort();
    for (const [key, ids] of allocIds) expect(byJob(key)).toEqual(ids);
  });

  it('should resolve an owner\'s jobs with their allocations across both subgraphs, batching the Nomad reads', async () => {
    nomad.sim.resetRequestCounts();
    const response = await supergraph.query(
      `{ owners { name jobs { namespace jobId name status allocations { allocId jobId namespace node { name } } } } }`,
      {},
      { 'x-nomad-token': management },
    );
    expect(response.errors).toBeUndefined();
    const result = response.data?.['owners'] as OwnerNode[];
    expect(result.map((o) => [o.name, o.jobs.map((j) => `${j.namespace}/${j.jobId}`)])).toEqual([
      ['payments', ['default/api']],
      ['platform', ['default/web', 'team-b/etl']],
    ]);
    for (const job of result.flatMap((o) => o.jobs)) {
      expect(job.name).toBe(job.jobId);
      expect(job.allocations.map((a) => a.allocId).sort()).toEqual(allocIds.get(`${job.namespace}/${job.jobId}`));
      for (const alloc of job.allocations) {
        expect(alloc).toMatchObject({ jobId: job.jobId, namespace: job.namespace, node: { name: 'client-1' } });
      }
    }
    // One _entities call for the three jobs: one read per job, one list per job, one node read.
    expect(nomad.sim.requestCounts()).toEqual({ 'GET /v1/job/:id': 3, 'GET /v1/allocations': 3, 'GET /v1/node/:id': 1 });
  });

  it('should forward the caller\'s X-Nomad-Token through the router to every Nomad call', async () => {
    const query = `{ allocations(namespace: "*", first: 100) { edges { node { allocId namespace job { jobId owner { name } } } } } }`;
    const limited = await supergraph.query(query, {}, { 'x-nomad-token': defaultReader });
    expect(limited.errors).toBeUndefined();
    const nodes = (limited.data?.['allocations'] as { edges: { node: { namespace: string; job: { jobId: string; owner: { name: string } | null } } }[] }).edges.map(
      (e) => e.node,
    );
    expect(nodes).toHaveLength(6);
    expect(new Set(nodes.map((n) => n.namespace))).toEqual(new Set(['default']));

    // Without a token Nomad lists nothing for `*` and refuses a named namespace.
    const anonymousAll = await supergraph.query(query);
    expect(anonymousAll.data?.['allocations']).toEqual({ edges: [] });
    const anonymous = await supergraph.query(query.replace('"*"', '"default"'));
    expect(anonymous.data?.['allocations'] ?? null).toBeNull();
    expect(anonymous.errors?.map((e) => e.extensions?.['code'])).toContain('FORBIDDEN');
  });

  it('should forward a bearer token the same way', async () => {
    const id = allocIds.get('default/web')?.[0];
    const query = 'query($id: ID!) { allocation(id: $id) { allocId job { owner { name } } } }';
    const response = await supergraph.query(query, { id }, { authorization: `Bearer ${defaultReader}` });
    expect(response.errors).toBeUndefined();
    expect(response.data?.['allocation']).toEqual({ allocId: id, job: { owner: { name: 'platform' } } });
    const anonymous = await supergraph.query(query, { id });
    expect(anonymous.errors?.map((e) => e.extensions?.['code'])).toContain('FORBIDDEN');
  });
});
