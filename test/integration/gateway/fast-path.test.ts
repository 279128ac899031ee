import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { Context } from '../../../src/context.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { createFastPath } from '../../../src/server/fast-path.ts';
import { yogaLogger } from '../../../src/server/yoga-logging.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createGatewayApp } from '../../helpers/gateway.ts';

/**
 * The fast path (plain JSON POSTs answered without yoga's request pipeline) and graphql-jit
 * against the reference engine (yoga's pipeline and graphql-js), over one simulator: the same
 * request gets the same status, headers and bytes from both, for answers, field errors with their
 * locations, variable, validation, syntax and limit errors, masked errors, rate limits, CORS,
 * every Accept a client sends, and the requests the fast path hands to yoga.
 */

/** An allocation whose read fails with a bug of ours (not a Nomad error), which is masked. */
const BROKEN = '0badc0de-0000-4000-8000-000000000000';

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

/** The response headers a client can see that either path sets. */
const COMPARED_HEADERS = ['content-type', 'content-length', 'x-request-id', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'vary', 'retry-after', 'accept'];

describe('the fast path and graphql-jit answer as the reference engine does', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  const apps: App[] = [];
  let reference = '';
  let fast = '';
  /** The production setting: graphql-js on a document's first run, graphql-jit from its second. */
  let compiledLater = '';
  let allocId = '';

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'demo', timing: { schedulerMs: 5, clientMs: 5 } });
    const real = createNomadClient({ address: sim.url });
    nomad = {
      ...real,
      readAllocation: (id, options) => (id === BROKEN ? Promise.reject(new TypeError('Cannot read properties of undefined')) : real.readAllocation(id, options)),
    };
    const start = async (engine: NonNullable<Parameters<typeof createGatewayApp>[1]>['engine']): Promise<string> => {
      // Both with one mutation a minute, so that the second is refused on both.
      const app = createGatewayApp(nomad, { engine, security: { mutationsPerMinute: 1 }, logger: pino({ level: 'silent' }) });
      apps.push(app);
      return (await app.start(0)).url;
    };
    reference = await start({ fastPath: false, compiledExecution: false });
    fast = await start({ fastPath: true, compiledExecution: { compileAfter: 0 } });
    compiledLater = await start({ fastPath: true, compiledExecution: { compileAfter: 1 } });
    await sim.cluster.idle();
    allocId = [...sim.store.allocs.keys()][0] ?? '';
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await nomad.close();
    await sim.stop();
  });

  async function send(base: string, init: { method?: 'GET' | 'POST'; path?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
    const response = await request(`${base}${init.path ?? '/graphql'}`, {
      method: init.method ?? 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body,
    });
    const body = await response.body.text();
    const headers: Record<string, string | undefined> = {};
    for (const name of COMPARED_HEADERS) {
      const value = response.headers[name];
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers, body };
  }

  /** Sends the request to the reference and to the fast gateway and expects the same answer. */
  async function same(init: Parameters<typeof send>[1], expectation?: (answer: Answer) => void): Promise<Answer> {
    const expected = await send(reference, init);
    const actual = await send(fast, init);
    if (init.headers?.['x-request-id'] === undefined) {
      // A fresh id each: compare its shape, not its value.
      for (const answer of [expected, actual]) {
        expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        answer.headers['x-request-id'] = 'fresh';
      }
    }
    expect(actual).toEqual(expected);
    expectation?.(expected);
    return expected;
  }

  const post = (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => ({ body: JSON.stringify({ query, variables }), headers });

  it('answers a dashboard page the same, byte for byte, on the first and the second run', async () => {
    const page = `query Page($after: String) { allocations(namespace: "*", first: 50, after: $after) { edges { cursor node { id allocId name namespace jobId clientStatus modifyTime createIndex taskStates { name state restarts events { type time } } job { jobId priority } node { name } } } pageInfo { hasNextPage endCursor } } }`;
    const first = await same(post(page), (answer) => expect(answer.status).toBe(200));
    const second = await same(post(page));
    expect(second.body).toBe(first.body);
    for (let run = 0; run < 2; run++) expect(await send(compiledLater, post(page))).toEqual({ ...first, headers: { ...first.headers, 'x-request-id': expect.any(String) } });
  });

  it('gives field errors the same message, path, locations and code, in fragments and aliases too', async () => {
    const errors = `query Errors { ...Pages ok: allocations(first: 1) { edges { node { allocId } } } }
      fragment Pages on Query { bad: allocations(first: -1) { edges { cursor } } }`;
    const answer = await same(post(errors));
    expect(answer.body).toContain('"locations":[{"line":2');
    expect(answer.body).toContain('"path":["bad"]');
    const stop = `mutation Stop($id: ID!) {\n  first: stopAllocation(input: { id: $id }) { evalId }\n}`;
    const missing = await same(post(stop, { id: 'ffffffff-ffff-4fff-8fff-ffffffffffff' }));
    expect(missing.body).toContain('"locations":[{"line":2,"column":3}]');
    expect(missing.body).toContain('"code":"NOT_FOUND"');
  });

  it('masks an unexpected error the same way, with its location', async () => {
    const answer = await same(post(`query One($id: ID!) { allocation(id: $id) { allocId } }`, { id: BROKEN }));
    expect(answer.body).toContain('Unexpected error.');
    expect(answer.body).not.toContain('Cannot read properties');
  });

  it('refuses bad variables in graphql-js words', async () => {
    const one = `query One($id: ID!, $first: Int) { allocation(id: $id) { allocId } allocations(first: $first) { edges { cursor } } }`;
    await same(post(one, {}), (answer) => expect(answer.body).toContain('was not provided'));
    await same(post(one, { id: allocId, first: 'ten' }), (answer) => expect(answer.body).toContain('Int cannot represent'));
    await same(post(one, { id: allocId, first: 2 }), (answer) => expect(answer.status).toBe(200));
  });

  it('answers validation, syntax and limit errors the same, for each Accept a client sends', async () => {
    const accepts = [
      undefined,
      '*/*',
      'application/json',
      'application/graphql-response+json',
      'application/graphql-response+json,application/json;q=0.9', // Apollo Client
      'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed', // urql
      'text/event-stream',
      'text/html',
    ];
    const deep = `{ ${'allocations(first: 1) { edges { node { job { allocations { job { '.repeat(3)} jobId ${'} } } } } } '.repeat(3)} }`;
    for (const accept of accepts) {
      const headers: Record<string, string> = accept === undefined ? {} : { accept };
      await same(post(`query Bad { allocations { nope } }`, undefined, headers));
      await same(post(`query Broken { allocations(`, undefined, headers));
      await same(post(`{ ${'a: __typename '.repeat(6000)} }`, undefined, headers));
      await same(post(deep, undefined, headers));
    }
    const gr = await same(post(`query Bad { allocations { nope } }`, undefined, { accept: 'application/graphql-response+json' }));
    expect(gr.status).toBe(400);
  });

  it('answers introspection, a rate-limited mutation and CORS the same', async () => {
    await same(post(`{ __schema { types { name fields { name } } } }`));
    const restart = `mutation Restart($id: ID!) { restartAllocation(input: { id: $id }) { allocation { allocId } } }`;
    // A token of its own (an earlier test used the anonymous bucket): its first mutation of the
    // minute is allowed on each gateway, its second refused on each (429, Retry-After).
    const token = { 'x-nomad-token': 'rate-limited-caller' };
    await same(post(restart, { id: allocId }, token), (answer) => expect(answer.body).toContain('"allocation":{"allocId"'));
    const refused = await same(post(restart, { id: allocId }, token));
    expect(refused.status).toBe(429);
    const cors = await same(post(`{ __typename }`, undefined, { origin: 'https://ui.example.com' }));
    expect(cors.headers['access-control-allow-origin']).toBe('https://ui.example.com');
    await same(post(`{ __typename }`, undefined, { 'x-request-id': 'req-42' }), (answer) => expect(answer.headers['x-request-id']).toBe('req-42'));
  });

  it('hands to yoga what is not a plain JSON query: persisted queries, batches, subscriptions, other media types, bad JSON', async () => {
    await same({ body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }) });
    await same({ body: JSON.stringify([{ query: '{ __typename }' }]) });
    await same({ body: JSON.stringify({ query: 'subscription { allocationChanges { index } }' }), headers: { accept: 'application/json' } });
    await same({ body: '{"query": ' });
    await same({ body: JSON.stringify({ query: 42 }) });
    await same({ body: JSON.stringify({ query: '{ __typename }', variables: [] }) });
    await same({ body: 'query=%7B__typename%7D', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await same({ body: JSON.stringify({ query: '{ __typename }' }), headers: { 'content-type': 'application/json; charset=latin1' } });
    await same({ path: '/graphql?query=%7B__typename%7D', method: 'GET', body: undefined, headers: { accept: 'application/json' } });
  });
});

describe('the fast path logs an unexpected error as yoga does', () => {
  /** A bug of ours in an envelop plugin: validation throws an error that is not a GraphQLError. */
  const buggy: Plugin = {
    onValidate: () => {
      throw new TypeError('a bug in a plugin');
    },
  };
  const logs: string[] = [];
  const servers: Server[] = [];
  let viaYoga = '';
  let viaFastPath = '';

  beforeAll(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    const yoga = createYoga<Record<string, unknown>, Context>({
      schema: buildSchema('type Query { hello(name: String): String }'),
      maskedErrors: { isDev: false },
      logging: yogaLogger(logger),
      plugins: [buggy],
    });
    const fastPath = createFastPath({ yoga, cors: undefined, logger });
    const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
      const server = createServer(handler);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    };
    viaYoga = await listen((req, res) => void yoga(req, res));
    viaFastPath = await listen((req, res) => {
      if (!fastPath(req, res)) void yoga(req, res);
    });
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('logs the original error at error level, by name and message, never the token or the variables', async () => {
    const token = `secret-${crypto.randomUUID()}`;
    const variable = `private-${crypto.randomUUID()}`;
    const answers: { status: number; body: string; lines: Record<string, unknown>[] }[] = [];
    for (const url of [viaYoga, viaFastPath]) {
      logs.length = 0;
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-nomad-token': token, authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'query Hello($name: String) { hello(name: $name) }', variables: { name: variable } }),
      });
      const body = await response.body.text();
      expect(logs.join('')).not.toContain(token);
      expect(logs.join('')).not.toContain(variable);
      answers.push({ status: response.statusCode, body, lines: logs.map((line) => JSON.parse(line) as Record<string, unknown>) });
    }
    const [yogaAnswer, fastAnswer] = answers;
    expect(fastAnswer?.body).toContain('Unexpected error.');
    expect(fastAnswer?.body).not.toContain('a bug in a plugin');
    expect({ status: fastAnswer?.status, body: fastAnswer?.body }).toEqual({ status: yogaAnswer?.status, body: yogaAnswer?.body });
    const errorLines = (answer: (typeof answers)[number] | undefined) => (answer?.lines ?? []).filter((line) => line['level'] === 50).map((line) => line['msg']);
    // yoga writes its line twice (its masking, then its error handler); once is enough.
    expect(new Set(errorLines(yogaAnswer))).toEqual(new Set(['TypeError: a bug in a plugin']));
    expect(errorLines(fastAnswer)).toEqual(['TypeError: a bug in a plugin']);
  });
});
