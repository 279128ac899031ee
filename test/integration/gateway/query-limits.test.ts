import { beforeAll, describe, expect, it } from 'vitest';
import { QUERY_LIMITS } from '../../../src/server/query-limits.ts';
import { useGatewayStack } from '../../helpers/gateway.ts';

/** `allocations { edges { node { nextAllocation { … id } } } }` nested to exactly `depth` fields. */
function nestedQuery(depth: number): string {
  const links = depth - 4;
  return `{ allocations { edges { node { ${'nextAllocation { '.repeat(links)}id${' }'.repeat(links)} } } } }`;
}

describe('query limits', () => {
  const stack = useGatewayStack();

  beforeAll(async () => {
    stack().sim.cluster.createJob({ id: 'limits', count: 2 });
    await stack().sim.cluster.idle();
  });

  it('should run an operation exactly at the depth limit', async () => {
    const response = await stack().graphql(nestedQuery(QUERY_LIMITS.maxDepth));
    expect(response.errors).toBeUndefined();
    expect(response.data?.['allocations']).toBeTypeOf('object');
  });

  it('should refuse an operation one level deeper, before any upstream call', async () => {
    stack().sim.resetRequestCounts();
    const response = await stack().graphql(nestedQuery(QUERY_LIMITS.maxDepth + 1));
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.['code']).toBe('QUERY_LIMIT_EXCEEDED');
    expect(response.errors?.[0]?.message).toBe(`Query depth limit of ${QUERY_LIMITS.maxDepth} exceeded, found ${QUERY_LIMITS.maxDepth + 1}.`);
    expect(stack().sim.requestCounts()).toEqual({});
  });

  it('should count fragments toward the depth', async () => {
    const links = QUERY_LIMITS.maxDepth - 4;
    const query = `fragment Deep on Allocation { ${'nextAllocation { '.repeat(links)}id${' }'.repeat(links)} }
      { allocations { edges { node { ...Deep } } } }`;
    expect((await stack().graphql(query)).errors).toBeUndefined();
    const deeper = `fragment Deep on Allocation { ${'nextAllocation { '.repeat(links + 1)}id${' }'.repeat(links + 1)} }
      { allocations { edges { node { ...Deep } } } }`;
    expect((await stack().graphql(deeper)).errors?.[0]?.extensions?.['code']).toBe('QUERY_LIMIT_EXCEEDED');
  });

  it('should refuse more aliases than allowed', async () => {
    const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: allocations(first: 1) { edges { cursor } }`).join(' ')} }`;
    expect((await stack().graphql(aliases(QUERY_LIMITS.maxAliases))).errors).toBeUndefined();
    const tooMany = await stack().graphql(aliases(QUERY_LIMITS.maxAliases + 1));
    expect(tooMany.status).toBe(400);
    expect(tooMany.errors?.[0]?.extensions?.['code']).toBe('QUERY_LIMIT_EXCEEDED');
  });

  it('should stop parsing a document with too many tokens', async () => {
    const response = await stack().graphql(`{ ${'allocations { edges { cursor } } '.repeat(1_000)}}`);
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_PARSE_FAILED');
    expect(response.errors?.[0]?.message).toMatch(/more that 5000 tokens/);
  });

  it('should let the deep introspection query GraphiQL sends through', async () => {
    const deepType = 'type { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } }';
    const response = await stack().graphql(`{ __schema { types { name fields { name args { name ${deepType} } ${deepType} } } } }`);
    expect(response.errors).toBeUndefined();
  });

  it('should apply the same limits on the federation subgraph endpoint', async () => {
    const response = await fetch(`${stack().url}/subgraph`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: nestedQuery(QUERY_LIMITS.maxDepth + 1) }),
    });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
  });
});
