import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startTracing, type Tracing } from '../../../src/observability/tracing.ts';
import { startGatewayStack, type GatewayStack } from '../../helpers/gateway.ts';

/**
 * OpenTelemetry spans of a real gateway over the simulator, caught by an in-memory exporter: a
 * server span per GraphQL operation over HTTP, graphql-ws and /subgraph, a client span per call
 * to Nomad as its child, the caller's W3C trace context carried on, errors marked, no secret in
 * any span.
 */

const PAGE = /* GraphQL */ `query Page { allocations(namespace: "*", first: 5) { edges { node { allocId job { jobId } node { name } } } } }`;
const ONE = /* GraphQL */ `query One($id: ID!) { allocation(id: $id) { allocId } }`;
const STOP = /* GraphQL */ `mutation Stop($id: ID!) { stopAllocation(input: { id: $id }) { evalId } }`;
const CHANGES = /* GraphQL */ `subscription Changes { allocationChanges(namespace: "default") { initial index } }`;

/** Exports through `inner`, and keeps every span as it starts: a span never ended is never exported. */
class StartRecordingProcessor implements SpanProcessor {
  readonly started: Span[] = [];
  constructor(private readonly inner: SpanProcessor) {}
  onStart(span: Span, parentContext: Parameters<SpanProcessor['onStart']>[1]): void {
    this.started.push(span);
    this.inner.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

function hexId(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

describe('OpenTelemetry traces', () => {
  const exporter = new InMemorySpanExporter();
  const processor = new StartRecordingProcessor(new SimpleSpanProcessor({ exporter }));
  let tracing: Tracing;
  let stack: GatewayStack & { stop(): Promise<void> };

  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'gateway-under-test', processor });
    stack = await startGatewayStack({ tracer: tracing.tracer, simulator: { scenario: 'demo' } });
  });
  afterAll(async () => {
    await stack.stop();
    await tracing.shutdown();
  });
  beforeEach(() => {
    exporter.reset();
    processor.started.length = 0;
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const servers = () => spans().filter((span) => span.kind === SpanKind.SERVER);
  const childrenOf = (parent: ReadableSpan) =>
    spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId && span.spanContext().traceId === parent.spanContext().traceId);

  it('makes one server span per HTTP operation, parent of a client span per Nomad call', async () => {
    const result = await stack.graphql(PAGE);
    expect(result.errors).toBeUndefined();
    const [server, ...others] = servers();
    expect(others).toEqual([]);
    if (server === undefined) throw new Error('no server span');
    expect(server.name).toBe('query Page');
    expect(server.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Page', 'gateway.transport': 'http' });
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(server.resource.attributes['service.name']).toBe('gateway-under-test');

    const clients = spans().filter((span) => span.kind === SpanKind.CLIENT);
    // A page with its jobs and nodes: the list, then each distinct job and node (batched).
    expect(clients.length).toBeGreaterThanOrEqual(3);
    expect(childrenOf(server)).toHaveLength(clients.length);
    const routes = new Set(clients.map((span) => span.attributes['url.template']));
    expect(routes).toEqual(new Set(['/v1/allocations', '/v1/job/:id', '/v1/node/:id']));
    for (const client of clients) {
      expect(client.name).toBe(`GET ${String(client.attributes['url.template'])}`);
      expect(client.attributes['http.request.method']).toBe('GET');
      expect(client.attributes['http.response.status_code']).toBe(200);
      // Within the operation: the upstream call's real start and end.
      expect(hrMs(client.startTime)).toBeGreaterThanOrEqual(hrMs(server.startTime));
      expect(hrMs(client.endTime)).toBeLessThanOrEqual(hrMs(server.endTime));
      expect(hrMs(client.endTime)).toBeGreaterThan(hrMs(client.startTime));
    }
  });

  it("continues the caller's W3C trace context", async () => {
    const traceId = hexId(16);
    const parentId = hexId(8);
    await stack.graphql(PAGE, undefined, { traceparent: `00-${traceId}-${parentId}-01` });
    const [server] = servers();
    expect(server?.spanContext().traceId).toBe(traceId);
    expect(server?.parentSpanContext?.spanId).toBe(parentId);
    for (const client of spans().filter((span) => span.kind === SpanKind.CLIENT)) expect(client.spanContext().traceId).toBe(traceId);
  });

  it('marks failed operations and failed upstream calls, with their codes', async () => {
    const missing = await stack.graphql(STOP, { id: 'ffffffff-ffff-4fff-8fff-ffffffffffff' });
    expect(missing.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    const invalid = await stack.graphql(`query Bad { allocations { nope } }`);
    expect(invalid.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');

    const [one, bad] = servers();
    expect(one?.name).toBe('mutation Stop');
    expect(one?.status.code).toBe(SpanStatusCode.ERROR);
    expect(one?.attributes['gateway.error_codes']).toEqual(['NOT_FOUND']);
    expect(one?.attributes['error.type']).toBe('NOT_FOUND');
    const read = spans().find((span) => span.kind === SpanKind.CLIENT && span.attributes['http.response.status_code'] === 404);
    expect(read?.attributes['error.type']).toBe('404');
    expect(read?.status.code).toBe(SpanStatusCode.ERROR);
    expect(read?.parentSpanContext?.spanId).toBe(one?.spanContext().spanId);

    expect(bad?.name).toBe('query Bad');
    expect(bad?.status.code).toBe(SpanStatusCode.ERROR);
    expect(bad?.attributes['gateway.error_codes']).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(bad === undefined ? [] : childrenOf(bad)).toEqual([]);
  });

  it('makes server spans for graphql-ws operations: a query, and a subscription for its lifetime', async () => {
    const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    try {
      const query = await client.iterate({ query: PAGE }).next();
      expect(query.value).toMatchObject({ data: { allocations: {} } });
      const subscription = client.iterate({ query: CHANGES });
      const first = await subscription.next();
      expect(first.value).toMatchObject({ data: { allocationChanges: { initial: true } } });
      // Still running: no span yet for the subscription.
      expect(servers().map((span) => span.name)).toEqual(['query Page']);
      await subscription.return?.(undefined);
      await vi.waitFor(() => expect(servers().map((span) => span.name)).toEqual(['query Page', 'subscription Changes']));
    } finally {
      await client.dispose();
    }
    const [page, changes] = servers();
    expect(page?.attributes['gateway.transport']).toBe('ws');
    expect(changes?.attributes['graphql.operation.type']).toBe('subscription');
    expect(changes?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(page === undefined ? [] : childrenOf(page).length).toBeGreaterThanOrEqual(3);
  });

  it("makes server spans on /subgraph, children of the router's trace context", async () => {
    const traceId = hexId(16);
    const parentId = hexId(8);
    const response = await fetch(`${stack.url}/subgraph`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` },
      body: JSON.stringify({ query: PAGE }),
    });
    expect(response.status).toBe(200);
    const [server] = servers();
    expect(server?.name).toBe('query Page');
    expect(server?.parentSpanContext?.spanId).toBe(parentId);
    expect(server === undefined ? [] : childrenOf(server).length).toBeGreaterThanOrEqual(3);
  });

  it('starts no span for a request that carries no operation: probes, GraphiQL, CORS preflight, another path', async () => {
    const answers = await Promise.all([
      fetch(`${stack.url}/readyz`),
      fetch(`${stack.url}/healthz`),
      fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } }),
      fetch(`${stack.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://ui.example.com', 'access-control-request-method': 'POST' } }),
      fetch(`${stack.url}/nowhere`),
    ]);
    for (const answer of answers) await answer.arrayBuffer();
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 204, 404]);
    expect(answers[2]?.headers.get('content-type')).toContain('text/html');
    // The readiness probe's own call to Nomad has its client span; nothing else starts one.
    expect(processor.started.filter((span) => span.kind === SpanKind.SERVER).map((span) => span.name)).toEqual([]);
    // An operation still gets its span, and every span started is ended.
    await stack.graphql(`{ __typename }`);
    expect(servers().map((span) => span.name)).toEqual(['query']);
    expect(processor.started.filter((span) => span.kind === SpanKind.SERVER)).toHaveLength(1);
  });

  it('still makes a span for a request refused before its parameters were read (a bad body)', async () => {
    const before = Date.now();
    const response = await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    await response.arrayBuffer();
    const [server, ...others] = servers();
    expect(others).toEqual([]);
    if (server === undefined) throw new Error('no server span');
    expect(server.name).toBe('GraphQL operation');
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['gateway.transport']).toBe('http');
    // Started when the refusal is answered, dated back to the request's start.
    expect(hrMs(server.startTime)).toBeGreaterThanOrEqual(before - 1);
    expect(hrMs(server.endTime)).toBeGreaterThanOrEqual(hrMs(server.startTime));
    expect(processor.started).toHaveLength(1);
  });

  it('puts no token, variable or id in any span', async () => {
    const token = `secret-${hexId(12)}`;
    const listed = await stack.graphql(PAGE);
    const allocId = String((listed.data?.['allocations'] as { edges: { node: { allocId: string } }[] }).edges[0]?.node.allocId);
    exporter.reset();
    await stack.graphql(ONE, { id: allocId }, { 'x-nomad-token': token });
    await stack.graphql(ONE, { id: allocId }, { authorization: `Bearer ${token}` });
    expect(servers()).toHaveLength(2);
    const everything = JSON.stringify(spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })));
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(allocId);
    expect(everything).toContain('/v1/allocation/:id');
  });
});

function hrMs([seconds, nanos]: [number, number]): number {
  return seconds * 1_000 + nanos / 1e6;
}
