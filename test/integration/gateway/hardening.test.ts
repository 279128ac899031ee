import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GRAPHIQL_DEFAULT_QUERY } from '../../../src/server/yoga.ts';
import { createAsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/** What a production deployment locks down, each limit hit on a real gateway with a clear error. */

function codeOf(body: Record<string, unknown>): unknown {
  return asRecord(asArray(body['errors']).map(asRecord)[0]?.['extensions'])['code'];
}

describe('the defaults', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  beforeAll(async () => {
    stack = await startGatewayStack({ simulator: { scenario: 'demo' } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('should run GraphiQL\'s default query within the cost limit, and refuse a costlier fan-out of links', async () => {
    const fine = await stack.graphql(GRAPHIQL_DEFAULT_QUERY);
    expect(fine.errors).toBeUndefined();
    // Two aliased links per level, three levels down: within the depth and alias limits, but each
    // level doubles what one allocation row costs Nomad.
    const link = (depth: number): string =>
      depth === 0 ? 'allocId name clientStatus' : `allocId job { jobId a1: allocations(first: 5) { ${link(depth - 1)} } a2: allocations(first: 5) { ${link(depth - 1)} } }`;
    const costly = await stack.graphql(`{ allocations(first: 5) { edges { node { ${link(3)} } } } }`);
    expect(costly.errors?.[0]?.extensions?.['code']).toBe('QUERY_LIMIT_EXCEEDED');
    expect(costly.errors?.[0]?.message).toMatch(/Cost limit of 100000 exceeded/);
  });

  it('should refuse a body over the limit with 413 and REQUEST_TOO_LARGE, before reading it', async () => {
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename }`, variables: { padding: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(codeOf(asRecord(await response.json()))).toBe('REQUEST_TOO_LARGE');
  });

  it('should refuse a POST with a form\'s media type before it runs (CSRF prevention)', async () => {
    for (const contentType of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
      const response = await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType }, body: 'query=mutation%20%7B%20__typename%20%7D' });
      expect(response.status, contentType).toBe(415);
      expect(codeOf(asRecord(await response.json()))).toBe('CSRF_PREVENTED');
    }
    expect((await stack.graphql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('should let any origin call without credentials', async () => {
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-nomad-token' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
  });
});

describe('a locked-down deployment', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  const clients: Client[] = [];
  beforeAll(async () => {
    stack = await startGatewayStack({
      simulator: { scenario: 'demo' },
      security: { graphiql: false, introspection: false, corsOrigins: ['https://ui.example.com'], mutationsPerMinute: 2, subscriptionsPerMinute: 2 },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await stack.stop();
  });

  it('should refuse introspection with INTROSPECTION_DISABLED, and still answer __typename', async () => {
    const refused = await stack.graphql('{ __schema { types { name } } }');
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('INTROSPECTION_DISABLED');
    const type = await stack.graphql('{ __type(name: "Allocation") { name } }');
    expect(type.errors?.[0]?.extensions?.['code']).toBe('INTROSPECTION_DISABLED');
    expect((await stack.graphql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('should serve neither GraphiQL nor the terminal page', async () => {
    const graphiql = await fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).not.toMatch(/<html/i);
    expect((await fetch(`${stack.url}/exec`)).status).toBe(404);
  });

  it('should allow only the listed origins', async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect((await preflight('https://ui.example.com')).headers.get('access-control-allow-origin')).toBe('https://ui.example.com');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });

  it('should limit mutations per token with RATE_LIMITED, HTTP 429 and when to retry; another token has its own allowance', async () => {
    const mutation = 'mutation($input: RestartAllocationInput!) { restartAllocation(input: $input) { allocation { allocId } } }';
    const running = [...stack.sim.store.allocs.values()].find((a) => a.ClientStatus === 'running');
    if (running === undefined) throw new Error('no running allocation');
    const send = (token: string) => stack.graphql(mutation, { input: { id: running.ID } }, { 'x-nomad-token': token });
    for (let i = 0; i < 2; i++) expect((await send('token-a')).errors?.[0]?.extensions?.['code']).not.toBe('RATE_LIMITED');
    const limited = await send('token-a');
    expect(limited.status).toBe(429);
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited.errors?.[0]?.extensions?.['retryAfterSeconds'])).toBeGreaterThan(0);
    expect((await send('token-b')).errors?.[0]?.extensions?.['code']).not.toBe('RATE_LIMITED');
    // Queries are not limited.
    expect((await stack.graphql('{ __typename }', {}, { 'x-nomad-token': 'token-a' })).errors).toBeUndefined();
  });

  it('should not count mutations that only feed an exec session (a held key repeats some 30 times a second)', async () => {
    const input = 'mutation($input: ExecInputInput!) { execInput(input: $input) { bytesWritten } }';
    const resize = 'mutation($input: ExecResizeInput!) { execResize(input: $input) { sessionId } }';
    const sessionId = 'ab'.repeat(16);
    const token = { 'x-nomad-token': 'token-typing' };
    for (let i = 0; i < 5; i++) {
      const typed = await stack.graphql(input, { input: { sessionId, text: 'a' } }, token);
      expect(typed.errors?.[0]?.extensions?.['code']).toBeDefined(); // no such session here
      expect(typed.errors?.[0]?.extensions?.['code']).not.toBe('RATE_LIMITED');
      const resized = await stack.graphql(resize, { input: { sessionId, height: 24, width: 80 } }, token);
      expect(resized.errors?.[0]?.extensions?.['code']).not.toBe('RATE_LIMITED');
    }
    // A mutation that also does anything else is counted: two allowed (the limit here), then refused.
    const mixed = `mutation($input: ExecInputInput!, $restart: RestartAllocationInput!) {
      execInput(input: $input) { bytesWritten }
      restartAllocation(input: $restart) { allocation { allocId } }
    }`;
    const running = [...stack.sim.store.allocs.values()].find((a) => a.ClientStatus === 'running');
    if (running === undefined) throw new Error('no running allocation');
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const result = await stack.graphql(mixed, { input: { sessionId, text: 'a' }, restart: { id: running.ID } }, token);
      codes.push(result.errors?.map((e) => e.extensions?.['code']) ?? []);
    }
    expect(codes[2]).toEqual(['RATE_LIMITED']);
  });

  it('should limit new subscriptions per token over WebSocket too', async () => {
    const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { 'X-Nomad-Token': 'token-s' } });
    clients.push(client);
    const firsts = [];
    for (let i = 0; i < 3; i++) {
      const results = createAsyncQueue<unknown>();
      client.subscribe({ query: 'subscription { allocationChanges(namespace: "default") { initial } }' }, { next: results.push, error: results.push, complete: () => undefined });
      firsts.push(asRecord(await results.next(10_000)));
    }
    expect(firsts.slice(0, 2).map((r) => r['errors'])).toEqual([undefined, undefined]);
    expect(codeOf(firsts[2] ?? {})).toBe('RATE_LIMITED');
  });
});

describe('a gateway whose callers without a token act with NOMAD_TOKEN', () => {
  it('should answer no other origin (no CORS), so no page can act with its token', async () => {
    const stack = await startGatewayStack({ simulator: { scenario: 'empty' }, defaultToken: 'default-token', security: { corsOrigins: [] } });
    try {
      const response = await fetch(`${stack.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await stack.stop();
    }
  });
});

