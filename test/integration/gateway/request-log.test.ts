import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createClient, type Client } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAsyncQueue, type AsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asRecord } from '../../helpers/http.ts';

/**
 * The request log of a real gateway over the simulator, captured from pino at its most verbose:
 * one line per operation with its request id, name, type, duration and error codes, the request
 * id echoed to the client, and never a token, a variable or the query text.
 */

const MANAGEMENT = randomUUID();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const PAGE = `query Page { allocations(first: 5) { edges { node { allocId } } } }`;
const STOP = `mutation Stop($id: ID!) { stopAllocation(input: { id: $id }) { evalId } }`;
const CHANGES = `subscription Changes { allocationChanges(namespace: "default") { initial index } }`;

interface LogLine extends Record<string, unknown> {
  level: number;
  msg: string;
}

/** Everything pino writes, kept as text (for "appears nowhere") and parsed (one JSON object a line). */
function captureLogs(): { stream: Writable; text(): string; lines(): LogLine[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = (): string => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const parsed = asRecord(JSON.parse(line));
          return { ...parsed, level: Number(parsed['level']), msg: String(parsed['msg']) };
        }),
  };
}

/** A `ws` WebSocket whose upgrade request carries an `x-request-id`, as a proxy in front would add. */
function webSocketWithRequestId(requestId: string): unknown {
  return class extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'x-request-id': requestId } });
    }
  };
}

describe('the request log', () => {
  const logs = captureLogs();
  let stack: GatewayStack & { stop(): Promise<void> };
  const clients: Client[] = [];
  let allocId = '';

  beforeAll(async () => {
    stack = await startGatewayStack({
      simulator: { scenario: 'empty', acl: true, managementToken: MANAGEMENT },
      defaultToken: MANAGEMENT,
      logger: pino({ level: 'trace' }, logs.stream),
    });
    allocId = stack.sim.cluster.createJob({ id: 'web', count: 1 }).allocations[0]?.ID ?? '';
    await stack.sim.cluster.idle();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** POSTs to /graphql (or `path`), returning the echoed request id and the parsed body. */
  async function post(body: Record<string, unknown>, headers: Record<string, string> = {}, path = '/graphql') {
    const response = await fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { requestId: response.headers.get('x-request-id'), body: asRecord(await response.json()) };
  }

  const operationLines = (): LogLine[] => logs.lines().filter((line) => line.msg === 'graphql operation');
  const linesFor = (requestId: string | null): LogLine[] => operationLines().filter((line) => line['requestId'] === requestId);

  it('should log one line per operation with its request id, name, type, duration and codes, and echo the id', async () => {
    const { requestId, body } = await post({ query: PAGE }, { 'x-request-id': 'req-0001' });
    expect(body['errors']).toBeUndefined();
    expect(requestId).toBe('req-0001');
    const [line, ...more] = linesFor('req-0001');
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      requestId: 'req-0001',
      endpoint: '/graphql',
      transport: 'http',
      operationName: 'Page',
      operationType: 'query',
      errorCodes: [],
      errorCount: 0,
    });
    expect(line?.['durationMs']).toEqual(expect.any(Number));
  });

  it('should give a request without a usable x-request-id a new one, and echo that', async () => {
    const none = await post({ query: PAGE });
    expect(none.requestId).toMatch(UUID);
    expect(linesFor(none.requestId)).toHaveLength(1);

    for (const unusable of ['has spaces in it', 'x'.repeat(129), '"quoted"', '<script>']) {
      const answer = await post({ query: PAGE }, { 'x-request-id': unusable });
      expect(answer.requestId).toMatch(UUID);
      expect(linesFor(answer.requestId)).toHaveLength(1);
      expect(logs.text()).not.toContain(unusable);
    }
  });

  it('should log the error codes of a failed operation, and an operation that failed before it had a document', async () => {
    const stop = await post({ query: STOP, variables: { id: randomUUID() } }, { 'x-request-id': 'req-stop' });
    expect(asRecord((stop.body['errors'] as unknown[])[0])['extensions']).toMatchObject({ code: 'NOT_FOUND' });
    expect(linesFor('req-stop')).toEqual([expect.objectContaining({ operationName: 'Stop', operationType: 'mutation', errorCodes: ['NOT_FOUND'], errorCount: 1 })]);

    await post({ query: '{ allocations(first: 1) {' }, { 'x-request-id': 'req-syntax' });
    expect(linesFor('req-syntax')).toEqual([expect.objectContaining({ operationType: 'unknown', errorCodes: ['GRAPHQL_PARSE_FAILED'] })]);
    expect(linesFor('req-syntax')[0]).not.toHaveProperty('operationName');

    await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } }, operationName: 'Saved' }, { 'x-request-id': 'req-apq' });
    expect(linesFor('req-apq')).toEqual([expect.objectContaining({ operationName: 'Saved', operationType: 'unknown', errorCodes: ['PERSISTED_QUERY_NOT_FOUND'] })]);
  });

  it('should log a subscription over WebSocket once, when it ends, with the connection\'s request id', async () => {
    const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: webSocketWithRequestId('ws-conn-1'), retryAttempts: 0 });
    clients.push(client);
    const results: AsyncQueue<unknown> = createAsyncQueue();
    const dispose = client.subscribe({ query: CHANGES }, { next: results.push, error: () => undefined, complete: () => undefined });
    await results.next(10_000);
    expect(linesFor('ws-conn-1')).toEqual([]);
    dispose();
    await expect.poll(() => linesFor('ws-conn-1'), { timeout: 5_000 }).toEqual([
      expect.objectContaining({ transport: 'ws', endpoint: '/graphql', operationName: 'Changes', operationType: 'subscription', errorCodes: [] }),
    ]);
  });

  it('should log a subscription over SSE once, when the client goes away', async () => {
    const controller = new AbortController();
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': 'req-sse' },
      body: JSON.stringify({ query: CHANGES }),
      signal: controller.signal,
    });
    expect(response.headers.get('x-request-id')).toBe('req-sse');
    const reader = response.body?.getReader();
    let received = '';
    while (!received.includes('"initial":true')) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) throw new Error('the event stream ended before its first event');
      received += Buffer.from(chunk.value).toString('utf8');
    }
    expect(linesFor('req-sse')).toEqual([]);
    controller.abort();
    await expect.poll(() => linesFor('req-sse'), { timeout: 5_000 }).toEqual([
      expect.objectContaining({ transport: 'http', operationName: 'Changes', operationType: 'subscription', errorCodes: [] }),
    ]);
  });

  it('should log operations of the subgraph endpoint as such', async () => {
    const { requestId } = await post({ query: 'query Sdl { _service { sdl } }' }, { 'x-request-id': 'req-subgraph' }, '/subgraph');
    expect(requestId).toBe('req-subgraph');
    expect(linesFor('req-subgraph')).toEqual([expect.objectContaining({ endpoint: '/subgraph', operationName: 'Sdl', operationType: 'query' })]);
  });

  it('should never log a token, a variable or the query text, at any level', async () => {
    const tokenHeader = `secret-${randomUUID()}`;
    const bearer = `secret-${randomUUID()}`;
    const inVariables = `secret-${randomUUID()}`;
    const inQuery = `secret-${randomUUID()}`;
    const inConnectionParams = `secret-${randomUUID()}`;

    const forbidden = await post(
      { query: `query Filtered($filter: String) { allocations(filter: $filter) { edges { node { allocId } } } }`, variables: { filter: `Name contains "${inVariables}"` } },
      { 'X-Nomad-Token': tokenHeader, Authorization: `Bearer ${bearer}` },
    );
    expect(asRecord((forbidden.body['errors'] as unknown[])[0])['extensions']).toMatchObject({ code: 'FORBIDDEN' });
    await post({ query: PAGE }, { Authorization: `Bearer ${bearer}` });
    // With the default (management) token: the variables reach Nomad, and come back in errors.
    await post({ query: STOP, variables: { id: inVariables } });
    await post({ query: `query Filtered($filter: String) { allocations(filter: $filter) { edges { node { allocId } } } }`, variables: { filter: `Name == "${inVariables}"` } });
    await post({ query: `mutation Signal { signalAllocation(input: { id: "${allocId}", signal: "${inQuery}" }) { allocation { id } } }` });
    await post({ query: `{ allocation(id: "${inQuery}") { allocId } }` });
    await post({ query: `query Broken { allocation(id: "${inQuery}" ` });

    const client = createClient({
      url: `${stack.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { 'X-Nomad-Token': inConnectionParams },
    });
    clients.push(client);
    const ended = createAsyncQueue<unknown>();
    client.subscribe({ query: CHANGES }, { next: () => undefined, error: ended.push, complete: () => ended.push('complete') });
    await ended.next(10_000);

    const captured = logs.text();
    expect(logs.lines().some((line) => line.level <= 20)).toBe(true); // debug lines were captured too
    for (const secret of [tokenHeader, bearer, inVariables, inQuery, inConnectionParams, MANAGEMENT]) {
      expect(captured).not.toContain(secret);
      expect(captured).not.toContain(secret.slice('secret-'.length));
    }
    expect(captured).not.toContain('allocations(filter');
  });
});
