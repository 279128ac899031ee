import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator } from '../../../src/simulator/server.ts';
import { startGatewayProcess } from '../../helpers/gateway-process.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/**
 * `npm start` with the standard OTLP variables set: spans reach an OTLP/HTTP collector (a plain
 * HTTP server here, reading the JSON encoding) from a real gateway process, the last of them
 * flushed by the graceful shutdown.
 */

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function startCollector(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Map<string, unknown>;
}

/** The spans of OTLP/JSON export requests (ExportTraceServiceRequest), with the resources' service names. */
function decodeExport(bodies: readonly string[]): { serviceNames: Set<unknown>; spans: OtlpSpan[] } {
  const serviceNames = new Set<unknown>();
  const spans: OtlpSpan[] = [];
  for (const body of bodies) {
    for (const resourceSpans of asArray(asRecord(JSON.parse(body))['resourceSpans'])) {
      const resource = asRecord(asRecord(resourceSpans)['resource']);
      for (const attribute of asArray(resource['attributes'])) {
        if (asRecord(attribute)['key'] === 'service.name') serviceNames.add(asRecord(asRecord(attribute)['value'])['stringValue']);
      }
      for (const scope of asArray(asRecord(resourceSpans)['scopeSpans'])) {
        for (const raw of asArray(asRecord(scope)['spans'])) {
          const span = asRecord(raw);
          const attributes = new Map<string, unknown>();
          for (const attribute of asArray(span['attributes'])) {
            const value = asRecord(asRecord(attribute)['value']);
            attributes.set(String(asRecord(attribute)['key']), value['stringValue'] ?? value['intValue'] ?? value['boolValue']);
          }
          const parent = span['parentSpanId'];
          spans.push({
            name: String(span['name']),
            kind: Number(span['kind']),
            traceId: String(span['traceId']),
            spanId: String(span['spanId']),
            parentSpanId: typeof parent === 'string' && parent !== '' ? parent : undefined,
            attributes,
          });
        }
      }
    }
  }
  return { serviceNames, spans };
}

/** OTLP's SpanKind numbers. */
const SERVER = 2;
const CLIENT = 3;

describe('OTLP traces from a gateway process', () => {
  it('sends a server span per operation and a client span per Nomad call to OTEL_EXPORTER_OTLP_ENDPOINT, flushed on SIGTERM', async () => {
    const sim = await startSimulator({ scenario: 'demo', timing: { schedulerMs: 5, clientMs: 5 } });
    onTestFinished(() => sim.stop());
    const collector = await startCollector();
    const gateway = await startGatewayProcess({
      name: 'traced',
      nomadAddr: sim.url,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/otlp/`,
        OTEL_SERVICE_NAME: 'gateway-east',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k-123',
      },
    });
    const token = `secret-${randomBytes(8).toString('hex')}`;
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nomad-token': token },
      body: JSON.stringify({ query: 'query Dashboard { allocations(namespace: "*", first: 3) { edges { node { allocId job { jobId } } } } }' }),
    });
    expect(response.status).toBe(200);
    // Spans are batched for up to 5 s; the graceful shutdown exports what is left.
    gateway.signal('SIGTERM');
    expect(await gateway.exit).toEqual({ code: 0, signal: null });

    expect(collector.received.length).toBeGreaterThan(0);
    for (const request of collector.received) {
      expect(request.path).toBe('/otlp/v1/traces');
      expect(request.headers['content-type']).toContain('application/json');
      expect(request.headers['x-collector-key']).toBe('k-123');
      expect(request.body).not.toContain(token);
    }
    const { serviceNames, spans } = decodeExport(collector.received.map((request) => request.body));
    expect(serviceNames).toEqual(new Set(['gateway-east']));
    const server = spans.find((span) => span.kind === SERVER);
    expect(server?.name).toBe('query Dashboard');
    expect(server?.attributes.get('graphql.operation.name')).toBe('Dashboard');
    const children = spans.filter((span) => span.kind === CLIENT && span.parentSpanId === server?.spanId);
    expect(children.every((span) => span.traceId === server?.traceId)).toBe(true);
    expect(new Set(children.map((span) => span.attributes.get('url.template')))).toEqual(new Set(['/v1/allocations', '/v1/job/:id']));
  });
});
