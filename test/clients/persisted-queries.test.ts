import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql, type DocumentNode } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { describe, expect, it } from 'vitest';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asArray, asRecord } from '../helpers/http.ts';
import { DEMO_STACK, recordingFetch, simulatorAllocations, str, type SentRequest } from './support.ts';

/**
 * Automatic persisted queries with Apollo Client 4's PersistedQueryLink against a real gateway,
 * over POST and over GET. What the link really sends is read from the fetch it is given.
 */

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function newClient(url: string, options: { useGETForHashedQueries: boolean }) {
  const recorder = recordingFetch();
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: options.useGETForHashedQueries }).concat(
    new HttpLink({ uri: `${url}/graphql`, fetch: recorder.fetch }),
  );
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), sent: recorder.sent };
}

/** A request's GraphQL parameters, from its JSON body (POST) or its search parameters (GET). */
interface SentParams {
  query: string | undefined;
  sha256Hash: string | undefined;
}

function paramsOf(request: SentRequest): SentParams {
  let query: unknown;
  let extensions: unknown;
  if (request.method === 'GET') {
    query = request.url.searchParams.get('query') ?? undefined;
    const raw = request.url.searchParams.get('extensions');
    extensions = raw === null ? undefined : JSON.parse(raw);
  } else {
    const body = asRecord(JSON.parse(request.body ?? 'null'));
    query = body['query'];
    extensions = body['extensions'];
  }
  const persisted = extensions === undefined ? undefined : asRecord(asRecord(extensions)['persistedQuery']);
  return {
    query: query === undefined ? undefined : str(query),
    sha256Hash: persisted === undefined ? undefined : str(persisted['sha256Hash']),
  };
}

/** The `extensions.code` and message of each error of a response text. */
function errorsOf(responseText: string): { message: string; code: unknown }[] {
  const body = asRecord(JSON.parse(responseText));
  if (body['errors'] === undefined) return [];
  return asArray(body['errors']).map((entry) => {
    const error = asRecord(entry);
    return { message: str(error['message']), code: asRecord(error['extensions'] ?? {})['code'] };
  });
}

/** allocIds of a `{ allocations { edges { node { allocId } } } }` result. */
function allocIdsOf(data: unknown): string[] {
  return asArray(asRecord(asRecord(data)['allocations'])['edges']).map((edge) => str(asRecord(asRecord(edge)['node'])['allocId']));
}

describe('automatic persisted queries with Apollo’s PersistedQueryLink', () => {
  const stack = useGatewayStack(DEMO_STACK);

  /** The first `count` allocations of a namespace, in the simulator's order. */
  async function simulatorFirst(namespace: string, count: number): Promise<string[]> {
    return (await simulatorAllocations(stack().sim, namespace)).slice(0, count).map((alloc) => alloc.allocId);
  }

  /**
   * The whole exchange for one transport: a first client registers the query (hash only, then
   * the text after PersistedQueryNotFound); a second client with an empty cache is then served
   * by hash alone.
   */
  async function registerThenServeByHash(query: DocumentNode, namespace: string, useGETForHashedQueries: boolean): Promise<void> {
    const expected = await simulatorFirst(namespace, 3);
    const hashOnlyMethod = useGETForHashedQueries ? 'GET' : 'POST';

    const first = newClient(stack().url, { useGETForHashedQueries });
    const registered = await first.client.query({ query });
    expect(allocIdsOf(registered.data)).toEqual(expected);

    expect(first.sent.map((request) => [request.method, request.status])).toEqual([
      [hashOnlyMethod, 404],
      ['POST', 200],
    ]);
    const [hashOnly, withText] = first.sent.map(paramsOf);
    expect(hashOnly?.query).toBeUndefined();
    expect(hashOnly?.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
    expect(errorsOf(first.sent[0]?.responseText ?? '{}')).toEqual([{ message: 'PersistedQueryNotFound', code: 'PERSISTED_QUERY_NOT_FOUND' }]);
    // The retry carries the text and the same hash, and that hash is the text's SHA-256.
    expect(withText?.sha256Hash).toBe(hashOnly?.sha256Hash);
    expect(sha256(withText?.query ?? '')).toBe(hashOnly?.sha256Hash);

    const second = newClient(stack().url, { useGETForHashedQueries });
    const served = await second.client.query({ query });
    expect(allocIdsOf(served.data)).toEqual(expected);
    expect(second.sent.map((request) => [request.method, request.status])).toEqual([[hashOnlyMethod, 200]]);
    expect(second.sent.map(paramsOf)).toEqual([{ query: undefined, sha256Hash: hashOnly?.sha256Hash }]);
    if (useGETForHashedQueries) expect(second.sent[0]?.body).toBeUndefined();
  }

  it('should register a query over POST after PersistedQueryNotFound, then serve a new client by hash alone', async () => {
    const query = gql`
      query ApqOverPost {
        allocations(namespace: "prod", first: 3) { edges { node { id allocId } } }
      }
    `;
    await registerThenServeByHash(query, 'prod', false);
  });

  it('should register a query after a hash-only GET, then serve a new client’s hash-only GET', async () => {
    const query = gql`
      query ApqOverGet {
        allocations(namespace: "staging", first: 3) { edges { node { id allocId } } }
      }
    `;
    await registerThenServeByHash(query, 'staging', true);
  });

  it('should refuse a text that does not match its hash with PERSISTED_QUERY_MISMATCH, and store nothing under that hash', async () => {
    const claimed = sha256('{ allocations(first: 1) { edges { node { id } } } }');
    const post = (body: unknown) =>
      fetch(`${stack().url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify(body),
      });
    const persistedQuery = { version: 1, sha256Hash: claimed };

    const mismatched = await post({ query: '{ allocations(first: 2) { edges { node { id } } } }', extensions: { persistedQuery } });
    const mismatchedText = await mismatched.text();
    expect(errorsOf(mismatchedText).map((error) => error.code)).toEqual(['PERSISTED_QUERY_MISMATCH']);
    expect(asRecord(JSON.parse(mismatchedText))['data']).toBeUndefined();
    expect(mismatched.status).toBe(400);

    const hashOnly = await post({ extensions: { persistedQuery } });
    expect(hashOnly.status).toBe(404);
    expect(errorsOf(await hashOnly.text()).map((error) => error.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });
});
