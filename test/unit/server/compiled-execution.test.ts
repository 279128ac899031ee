import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCompiledExecution } from '../../../src/server/compiled-execution.ts';

/**
 * The compiled-execution plugin in a yoga of its own over a tiny schema (in-process requests):
 * when a document is compiled, that mutations never are, and that a result with errors comes
 * from the reference engine (the failing resolver runs a second time there).
 */
function gateway(compileAfter: number) {
  const compiles: { operationName: string | undefined; compiled: boolean }[] = [];
  const calls = { items: 0, broken: 0, bump: 0 };
  const schema = createSchema({
    typeDefs: /* GraphQL */ `
      type Query { items(n: Int!): [Int!]!, broken: [Int] }
      type Mutation { bump: Int! }
    `,
    resolvers: {
      Query: {
        items: (_: unknown, { n }: { n: number }) => {
          calls.items += 1;
          return Array.from({ length: n }, (_, i) => i);
        },
        broken: () => {
          calls.broken += 1;
          return [1, Promise.reject(new Error('no second item')), 3];
        },
      },
      Mutation: { bump: () => (calls.bump += 1) },
    },
  });
  const yoga = createYoga({ schema, maskedErrors: false, plugins: [useCompiledExecution({ compileAfter, onCompile: (event) => compiles.push(event) })] });
  const run = async (query: string, variables?: Record<string, unknown>) => {
    const response = await yoga.fetch('http://local/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as { data?: unknown; errors?: { message: string; path?: unknown[] }[] };
  };
  return { run, compiles, calls };
}

describe('useCompiledExecution', () => {
  it('compiles a query once it ran compileAfter times, and answers the same', async () => {
    const { run, compiles } = gateway(1);
    const query = 'query Items($n: Int!) { items(n: $n) }';
    expect(await run(query, { n: 3 })).toEqual({ data: { items: [0, 1, 2] } });
    expect(compiles).toEqual([]);
    expect(await run(query, { n: 2 })).toEqual({ data: { items: [0, 1] } });
    expect(compiles).toEqual([{ operationName: 'Items', compiled: true }]);
    expect(await run(query, { n: 1 })).toEqual({ data: { items: [0] } });
    expect(compiles).toHaveLength(1);
  });

  it('never compiles a mutation', async () => {
    const { run, compiles, calls } = gateway(0);
    for (let i = 1; i <= 3; i++) expect(await run('mutation { bump }')).toEqual({ data: { bump: i } });
    expect(compiles).toEqual([]);
    expect(calls.bump).toBe(3);
  });

  it('answers a compiled query that failed with the reference engine’s result', async () => {
    const { run, compiles, calls } = gateway(0);
    const result = await run('query Broken { broken }');
    expect(compiles).toEqual([{ operationName: 'Broken', compiled: true }]);
    expect(result.data).toEqual({ broken: [1, null, 3] });
    expect(result.errors?.map((e) => [e.message, e.path])).toEqual([['no second item', ['broken', 1]]]);
    // Once compiled (its result had an error), once on the reference engine.
    expect(calls.broken).toBe(2);
  });

  it('leaves variables the reference engine refuses to it', async () => {
    const { run, calls } = gateway(0);
    const result = await run('query Items($n: Int!) { items(n: $n) }', { n: 'three' });
    expect(result.errors?.[0]?.message).toContain('Int cannot represent');
    expect(calls.items).toBe(0);
  });
});
