import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parsePrometheusText, type Sample } from '../../../bench/prometheus-text.ts';
import { createGatewayMetrics, METRIC } from '../../../src/observability/metrics.ts';
import { createAsyncQueue, eventually, type AsyncQueue } from '../../helpers/async-queue.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';
import { asRecord, send } from '../../helpers/http.ts';

/**
 * `/metrics` of a real gateway over the simulator: upstream calls by route template, GraphQL
 * operations and error codes, and the live gauges (subscriptions, watches, WebSocket connections,
 * exec sessions) going up while something is open and back down when it ends.
 */

/** An allocation whose read fails with a bug of ours (not a Nomad error), which yoga masks. */
const BROKEN = '0badc0de-0000-4000-8000-000000000000';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const PAGE = `query Page { allocations(first: 10) { edges { node { id allocId name job { jobId } } } } }`;
const ONE = `query One($id: ID!) { allocation(id: $id) { allocId clientStatus services { serviceName } } }`;
const STOP = `mutation Stop($id: ID!) { stopAllocation(input: { id: $id }) { evalId } }`;
const CHANGES = `subscription Changes { allocationChanges(namespace: "default") { initial index added { allocId } } }`;
const EXEC = `subscription Exec($input: ExecAllocationInput!) { execAllocation(input: $input) { __typename ... on ExecStarted { sessionId } ... on ExecExited { exitCode } } }`;
const INPUT = `mutation In($input: ExecInputInput!) { execInput(input: $input) { bytesWritten } }`;

describe('/metrics on a gateway over the simulator', () => {
  let stack: GatewayStack & { stop(): Promise<void> };
  const allocIds: string[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startGatewayStack({
      simulator: { scenario: 'empty' },
      metrics: createGatewayMetrics(new Registry()),
      wrapNomad: (nomad) => ({
        ...nomad,
        readAllocation: (id, options) => (id === BROKEN ? Promise.reject(new TypeError('Cannot read properties of undefined')) : nomad.readAllocation(id, options)),
      }),
    });
    const { allocations } = stack.sim.cluster.createJob({ id: 'web', count: 3 });
    allocIds.push(...allocations.map((a) => a.ID));
    await stack.sim.cluster.idle();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const response = await send(stack.url, '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // Strict: a line prom-client writes that is not a valid sample fails the test.
    return { text: response.text, samples: parsePrometheusText(response.text) };
  }

  async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { samples } = await scrape();
    const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return matching.reduce((sum, s) => sum + s.value, 0);
  }

  function wsClient(): Client {
    const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    clients.push(client);
    return client;
  }

  function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}) {
    const results: AsyncQueue<Record<string, unknown>> = createAsyncQueue();
    const ended = createAsyncQueue<string>();
    const dispose = client.subscribe(
      { query, variables },
      { next: (r) => results.push(asRecord(r)), error: (e) => ended.push(`error: ${String(e)}`), complete: () => ended.push('complete') },
    );
    return { results, ended, dispose };
  }

  it('should label upstream calls by route template and status, with no id in any label', async () => {
    const [first] = allocIds;
    expect((await stack.graphql(PAGE)).errors).toBeUndefined();
    expect((await stack.graphql(ONE, { id: first })).errors).toBeUndefined();
    expect((await stack.graphql(ONE, { id: randomUUID() })).data).toEqual({ allocation: null }); // Nomad's 404

    const { text, samples } = await scrape();
    const upstream = samples.filter((s) => s.name === `${METRIC.upstreamDuration}_count`);
    const routes = new Set(upstream.map((s) => `${s.labels['method']} ${s.labels['route']} ${s.labels['status']}`));
    expect(routes).toContain('GET /v1/allocations 200');
    expect(routes).toContain('GET /v1/allocation/:id 200');
    expect(routes).toContain('GET /v1/allocation/:id 404');
    expect(routes).toContain('GET /v1/job/:id 200');
    expect(samples.find((s) => s.name === `${METRIC.upstreamDuration}_bucket` && s.labels['le'] === '+Inf')?.labels).toMatchObject({ blocking: 'false' });
    const counted = samples.filter((s) => s.name === METRIC.upstreamRequests).reduce((sum, s) => sum + s.value, 0);
    expect(counted).toBe(upstream.reduce((sum, s) => sum + s.value, 0));

    for (const sample of samples) {
      for (const label of Object.values(sample.labels)) expect(label, `${sample.name} ${JSON.stringify(sample.labels)}`).not.toMatch(UUID);
    }
    for (const id of allocIds) expect(text).not.toContain(id.slice(0, 8));
  });

  it('should count operations by type and errors by code, masked ones as INTERNAL', async () => {
    const before = {
      query: await value(METRIC.operations, { type: 'query' }),
      mutation: await value(METRIC.operations, { type: 'mutation' }),
      unknown: await value(METRIC.operations, { type: 'unknown' }),
      parse: await value(METRIC.errors, { code: 'GRAPHQL_PARSE_FAILED' }),
      validation: await value(METRIC.errors, { code: 'GRAPHQL_VALIDATION_FAILED' }),
      notFound: await value(METRIC.errors, { code: 'NOT_FOUND' }),
      badInput: await value(METRIC.errors, { code: 'BAD_USER_INPUT' }),
    };
    expect((await stack.graphql(PAGE)).errors).toBeUndefined();
    expect((await stack.graphql('{ allocations(first: 1) {')).errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_PARSE_FAILED');
    expect((await stack.graphql('{ nope }')).errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await stack.graphql(STOP, { id: randomUUID() })).errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect((await stack.graphql(ONE, { id: 'zz' })).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');

    expect(await value(METRIC.operations, { type: 'query' })).toBe(before.query + 3); // the page, '{ nope }', the bad id
    expect(await value(METRIC.operations, { type: 'mutation' })).toBe(before.mutation + 1);
    expect(await value(METRIC.operations, { type: 'unknown' })).toBe(before.unknown + 1); // the syntax error
    expect(await value(METRIC.errors, { code: 'GRAPHQL_PARSE_FAILED' })).toBe(before.parse + 1);
    expect(await value(METRIC.errors, { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(before.validation + 1);
    expect(await value(METRIC.errors, { code: 'NOT_FOUND' })).toBe(before.notFound + 1);
    expect(await value(METRIC.errors, { code: 'BAD_USER_INPUT' })).toBe(before.badInput + 1);
    expect(await value(METRIC.errors, { code: 'INTERNAL' })).toBe(0);
  });

  it('should count a masked error as INTERNAL, over HTTP and over WebSocket', async () => {
    const query = `query Broken { allocation(id: "${BROKEN}") { allocId } }`;
    const before = await value(METRIC.errors, { code: 'INTERNAL' });
    const overHttp = await stack.graphql(query);
    expect(overHttp.errors?.map((e) => [e.message, e.extensions?.['code']])).toEqual([['Unexpected error.', 'INTERNAL_SERVER_ERROR']]);
    expect(await value(METRIC.errors, { code: 'INTERNAL' })).toBe(before + 1);

    const overWs = subscribe(wsClient(), query);
    const result = await overWs.results.next(10_000);
    expect(result['errors']).toEqual([expect.objectContaining({ message: 'Unexpected error.' })]);
    expect(await overWs.ended.next(10_000)).toBe('complete');
    expect(await value(METRIC.errors, { code: 'INTERNAL' })).toBe(before + 2);
  });

  it('should raise the subscription, watch and WebSocket gauges while a subscription runs and lower them when it ends', async () => {
    expect(await value(METRIC.subscriptions)).toBe(0);
    // The previous test's client is gone once the server has seen its socket close.
    await eventually(async () => (await value(METRIC.wsConnections, { path: '/graphql' })) === 0, 'earlier connections to close');
    const client = wsClient();
    const subscription = subscribe(client, CHANGES);
    const initial = asRecord(asRecord(asRecord(await subscription.results.next(10_000))['data'])['allocationChanges']);
    expect(initial['initial']).toBe(true);

    expect(await value(METRIC.subscriptions)).toBe(1);
    expect(await value(METRIC.watchKeys)).toBe(1);
    expect(await value(METRIC.watchKeysLeading)).toBe(1);
    expect(await value(METRIC.wsConnections, { path: '/graphql' })).toBe(1);
    expect(await value(METRIC.backboneConnected, { backbone: 'in-process' })).toBe(1);
    // A change releases the watch's blocking query, which is labelled as one.
    stack.sim.cluster.createJob({ id: 'later', count: 1 });
    await subscription.results.next(10_000);
    expect(await value(METRIC.upstreamRequests, { method: 'GET', route: '/v1/allocations', status: '200', blocking: 'true' })).toBeGreaterThanOrEqual(1);

    subscription.dispose();
    await eventually(async () => (await value(METRIC.subscriptions)) === 0, 'the subscription gauge to drop');
    await eventually(async () => (await value(METRIC.watchKeys)) === 0, 'the watch to end');
    const subscriptions = await value(METRIC.operations, { type: 'subscription' });
    expect(subscriptions).toBeGreaterThanOrEqual(1);

    await client.dispose();
    await eventually(async () => (await value(METRIC.wsConnections, { path: '/graphql' })) === 0, 'the WebSocket gauge to drop');
  });

  it('should count an exec session while it runs, and not after', async () => {
    expect(await value(METRIC.execSessions)).toBe(0);
    const client = wsClient();
    const session = subscribe(client, EXEC, { input: { allocationId: allocIds[0], task: 'server', command: ['cat'] } });
    const started = asRecord(asRecord(await session.results.next(10_000))['data'])['execAllocation'];
    expect(asRecord(started)['__typename']).toBe('ExecStarted');
    expect(await value(METRIC.execSessions)).toBe(1);

    const sessionId = String(asRecord(started)['sessionId']);
    expect((await stack.graphql(INPUT, { input: { sessionId, close: true } })).errors).toBeUndefined();
    expect(await session.ended.next(10_000)).toBe('complete');
    await eventually(async () => (await value(METRIC.execSessions)) === 0, 'the exec gauge to drop');
  });

  it('should serve process metrics from the same registry, and refuse anything but GET and HEAD', async () => {
    const { samples } = await scrape();
    const names = new Set(samples.map((s) => s.name));
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    expect((await send(stack.url, '/metrics', { method: 'POST', body: '' })).status).toBe(405);
    const head = await send(stack.url, '/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });
});

describe('a gateway without metrics', () => {
  let stack: GatewayStack & { stop(): Promise<void> };

  beforeAll(async () => {
    stack = await startGatewayStack({ simulator: { scenario: 'empty' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('should not serve /metrics', async () => {
    expect((await send(stack.url, '/metrics')).status).toBe(404);
  });
});
