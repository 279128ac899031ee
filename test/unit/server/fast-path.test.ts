import { describe, expect, it } from 'vitest';
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
