import { parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { fieldNodesAt } from '../../../src/server/compiled-execution.ts';
import { negotiateJson, plainParams } from '../../../src/server/fast-path.ts';

describe('negotiateJson (the media type yoga answers a single result with)', () => {
  it.each([
    [undefined, 'application/json'],
    ['*/*', 'application/json'],
    ['application/json', 'application/json'],
    ['application/*', 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json'],
    ['application/graphql-response+json,application/json;q=0.9', 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['application/json;charset=utf-8', 'application/json'],
    ['text/html, application/json', 'application/json'],
  ])('%s → %s', (accept, expected) => {
    expect(negotiateJson(accept)).toBe(expected);
  });

  it.each([['text/event-stream'], ['multipart/mixed, application/json'], ['application/json;charset=latin1'], ['text/html'], ['text/*, application/json']])(
    'leaves %s to yoga',
    (accept) => {
      expect(negotiateJson(accept)).toBeUndefined();
    },
  );
});

describe('plainParams', () => {
  it('takes a query with an optional operation name and variables', () => {
    expect(plainParams({ query: '{ a }' })).toEqual({ query: '{ a }', operationName: undefined, variables: undefined });
    expect(plainParams({ query: '{ a }', operationName: null, variables: null })).toEqual({ query: '{ a }', operationName: undefined, variables: undefined });
    expect(plainParams({ query: 'query Q { a }', operationName: 'Q', variables: { x: 1 } })).toEqual({ query: 'query Q { a }', operationName: 'Q', variables: { x: 1 } });
  });

  it.each([
    [[{ query: '{ a }' }]],
    [{ query: '{ a }', extensions: { persistedQuery: {} } }],
    [{ extensions: {} }],
    [{ query: 42 }],
    [{ query: '{ a }', variables: [] }],
    [{ query: '{ a }', variables: 'x' }],
    [{ query: '{ a }', operationName: 3 }],
    [null],
    ['{ a }'],
  ])('leaves %j to yoga', (body) => {
    expect(plainParams(body)).toBeUndefined();
  });
});

describe('fieldNodesAt (where a field error points)', () => {
  const document = parse(`query Q {
  a: allocations { edges { node { ...Row } } }
  ... on Query { b: allocations { edges { cursor } } }
}
fragment Row on Allocation { job { jobId } job { name } }`);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const locations = (path: (string | number)[]) => fieldNodesAt(document, operation, path).map((node) => node.loc?.startToken.line);

  it('follows aliases, list indexes, fragments and inline fragments, and finds merged fields', () => {
    expect(locations(['a'])).toEqual([2]);
    expect(locations(['a', 'edges', 3, 'node', 'job'])).toEqual([5, 5]);
    expect(locations(['b', 'edges', 0, 'cursor'])).toEqual([3]);
    expect(locations(['nope'])).toEqual([]);
  });
});
