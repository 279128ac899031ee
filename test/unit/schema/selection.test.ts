import type { GraphQLResolveInfo } from 'graphql';
import { buildSchema, graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isSelected, selectedFields } from '../../../src/schema/selection.ts';

const schema = buildSchema(`
  type Query {
    allocations(first: Int): AllocationConnection!
  }
  type AllocationConnection {
    edges: [AllocationEdge!]!
    nodes: [Allocation!]!
    pageInfo: PageInfo!
  }
  type AllocationEdge {
    cursor: String!
    node: Allocation!
  }
  type Allocation {
    id: ID!
    name: String!
    clientStatus: String!
    taskStates: [TaskState!]!
  }
  type TaskState {
    name: String!
    state: String!
  }
  type PageInfo {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
  }
`);

const EMPTY_CONNECTION = { edges: [], nodes: [], pageInfo: { hasNextPage: false, hasPreviousPage: false } };

/** Runs `source` and returns the `info` of every `allocations` resolver call, in call order. */
async function captureAll(source: string, variableValues?: Record<string, unknown>): Promise<GraphQLResolveInfo[]> {
  const infos: GraphQLResolveInfo[] = [];
  const rootValue = {
    allocations: (_args: unknown, _context: unknown, info: GraphQLResolveInfo) => {
      infos.push(info);
      return EMPTY_CONNECTION;
    },
  };
  const result = await graphql({ schema, source, rootValue, variableValues });
  expect(result.errors).toBeUndefined();
  return infos;
}

/** Runs `source` and returns the `info` of its single `allocations` resolver call. */
async function capture(source: string, variableValues?: Record<string, unknown>): Promise<GraphQLResolveInfo> {
  const infos = await captureAll(source, variableValues);
  expect(infos).toHaveLength(1);
  const [info] = infos;
  if (info === undefined) throw new Error('the allocations resolver did not run');
  return info;
}

function sorted(fields: Set<string>): string[] {
  return [...fields].sort();
}

describe('selectedFields', () => {
  it('should list plain fields at each path', async () => {
    const info = await capture(`{
      allocations { edges { cursor node { id taskStates { name } } } pageInfo { hasNextPage } }
    }`);
    expect(sorted(selectedFields(info, []))).toEqual(['edges', 'pageInfo']);
    expect(sorted(selectedFields(info, ['edges']))).toEqual(['cursor', 'node']);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['id', 'taskStates']);
    expect(sorted(selectedFields(info, ['edges', 'node', 'taskStates']))).toEqual(['name']);
    expect(sorted(selectedFields(info, ['pageInfo']))).toEqual(['hasNextPage']);
  });

  it('should return an empty set for a path that is not selected or ends at a leaf', async () => {
    const info = await capture('{ allocations { nodes { id } } }');
    expect(selectedFields(info, ['edges', 'node']).size).toBe(0);
    expect(selectedFields(info, ['nodes', 'id']).size).toBe(0);
    expect(selectedFields(info, ['nope']).size).toBe(0);
  });

  it('should report field names rather than aliases, and follow aliased path segments', async () => {
    const info = await capture('{ allocations { list: nodes { ident: id label: name } more: edges { n: node { id } } } }');
    expect(sorted(selectedFields(info, []))).toEqual(['edges', 'nodes']);
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id', 'name']);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['id']);
    expect(selectedFields(info, ['list']).size).toBe(0);
  });

  it('should keep fields under nodes apart from fields under edges.node', async () => {
    const info = await capture('{ allocations { nodes { id } edges { node { taskStates { state } } } } }');
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id']);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['taskStates']);
    const union = new Set([...selectedFields(info, ['edges', 'node']), ...selectedFields(info, ['nodes'])]);
    expect(sorted(union)).toEqual(['id', 'taskStates']);
  });

  it('should follow named fragments, including fragments that spread other fragments', async () => {
    const info = await capture(`
      query { allocations { ...Conn } }
      fragment Conn on AllocationConnection { edges { cursor node { ...Alloc } } nodes { ...Alloc } }
      fragment Alloc on Allocation { id ...States }
      fragment States on Allocation { taskStates { name state } }
    `);
    expect(sorted(selectedFields(info, []))).toEqual(['edges', 'nodes']);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['id', 'taskStates']);
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id', 'taskStates']);
    expect(sorted(selectedFields(info, ['nodes', 'taskStates']))).toEqual(['name', 'state']);
  });

  it('should follow nested inline fragments with and without type conditions', async () => {
    const info = await capture(`{
      allocations {
        ... on AllocationConnection {
          ... { edges { ... on AllocationEdge { node { ... { ... on Allocation { clientStatus } } } } } }
        }
      }
    }`);
    expect(sorted(selectedFields(info, []))).toEqual(['edges']);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['clientStatus']);
  });

  it('should merge the same field selected in two places', async () => {
    const info = await capture(`
      query {
        allocations { nodes { id } pageInfo { hasNextPage } }
        allocations { nodes { name } edges { node { id } } ...Page }
      }
      fragment Page on AllocationConnection { pageInfo { hasPreviousPage } nodes { id } }
    `);
    expect(info.fieldNodes).toHaveLength(2);
    expect(sorted(selectedFields(info, []))).toEqual(['edges', 'nodes', 'pageInfo']);
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id', 'name']);
    expect(sorted(selectedFields(info, ['pageInfo']))).toEqual(['hasNextPage', 'hasPreviousPage']);
  });

  it('should see only its own selection when the field is resolved twice under different aliases', async () => {
    const [first, second] = await captureAll('{ a: allocations { nodes { id } } b: allocations(first: 1) { edges { cursor } } }');
    if (first === undefined || second === undefined) throw new Error('expected two resolver calls');
    expect(sorted(selectedFields(first, []))).toEqual(['nodes']);
    expect(sorted(selectedFields(second, []))).toEqual(['edges']);
  });

  it('should honour @skip and @include with literal arguments', async () => {
    const info = await capture(`{
      allocations {
        nodes { id name @skip(if: true) clientStatus @include(if: false) taskStates @skip(if: false) { name } }
        edges @include(if: true) { cursor }
        pageInfo @skip(if: true) { hasNextPage }
        ... @skip(if: true) { pageInfo { hasPreviousPage } }
        ...Hidden @include(if: false)
      }
    }
    fragment Hidden on AllocationConnection { pageInfo { hasNextPage } }`);
    expect(sorted(selectedFields(info, []))).toEqual(['edges', 'nodes']);
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id', 'taskStates']);
  });

  it('should drop a field that is both included and skipped', async () => {
    const info = await capture('{ allocations { nodes { id name @include(if: true) @skip(if: true) } } }');
    expect(sorted(selectedFields(info, ['nodes']))).toEqual(['id']);
  });

  it('should honour @skip and @include with variables, including defaults and variables inside fragments', async () => {
    const source = `
      query ($withStates: Boolean!, $skipCursor: Boolean = true) {
        allocations {
          edges { cursor @skip(if: $skipCursor) node { id ...States } }
        }
      }
      fragment States on Allocation { taskStates @include(if: $withStates) { name } }
    `;
    const on = await capture(source, { withStates: true });
    expect(sorted(selectedFields(on, ['edges']))).toEqual(['node']);
    expect(sorted(selectedFields(on, ['edges', 'node']))).toEqual(['id', 'taskStates']);
    const off = await capture(source, { withStates: false, skipCursor: false });
    expect(sorted(selectedFields(off, ['edges']))).toEqual(['cursor', 'node']);
    expect(sorted(selectedFields(off, ['edges', 'node']))).toEqual(['id']);
  });

  it('should keep a field selected in one place even when it is skipped in another', async () => {
    const info = await capture(`
      query ($hide: Boolean!) {
        allocations { nodes { taskStates @skip(if: $hide) { name } } edges { node { taskStates { state } } } }
      }`, { hide: true });
    expect(sorted(selectedFields(info, ['nodes']))).toEqual([]);
    expect(sorted(selectedFields(info, ['edges', 'node']))).toEqual(['taskStates']);
  });
});

describe('isSelected', () => {
  it('should tell whether a nested field is selected', async () => {
    const info = await capture('{ allocations { pageInfo { hasNextPage } nodes { id } } }');
    expect(isSelected(info, ['pageInfo', 'hasNextPage'])).toBe(true);
    expect(isSelected(info, ['pageInfo', 'hasPreviousPage'])).toBe(false);
    expect(isSelected(info, ['pageInfo'])).toBe(true);
    expect(isSelected(info, ['edges'])).toBe(false);
    expect(isSelected(info, ['edges', 'node', 'id'])).toBe(false);
    expect(isSelected(info, ['nodes', 'id'])).toBe(true);
  });

  it('should treat the empty path as the current field, which is always selected', async () => {
    const info = await capture('{ allocations { nodes { id } } }');
    expect(isSelected(info, [])).toBe(true);
  });

  it('should see a field selected through a fragment and hidden by a variable', async () => {
    const source = `
      query ($prev: Boolean!) { allocations { ...P } }
      fragment P on AllocationConnection { pageInfo { hasNextPage hasPreviousPage @include(if: $prev) } }
    `;
    expect(isSelected(await capture(source, { prev: true }), ['pageInfo', 'hasPreviousPage'])).toBe(true);
    expect(isSelected(await capture(source, { prev: false }), ['pageInfo', 'hasPreviousPage'])).toBe(false);
    expect(isSelected(await capture(source, { prev: false }), ['pageInfo', 'hasNextPage'])).toBe(true);
  });
});
