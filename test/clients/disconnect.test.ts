import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../src/nomad/client.ts';
import { startSimulator, type Simulator } from '../../src/simulator/server.ts';
import { createGatewayApp } from '../helpers/gateway.ts';
import { asArray, asRecord } from '../helpers/http.ts';
import { deferred, type Deferred } from '../helpers/async-queue.ts';
import { simulatorAllocations, str } from './support.ts';

/**
 * A caller that goes away mid-request takes the gateway's upstream calls with it: the request's
 * AbortSignal (yoga's `request.signal`) reaches every Nomad call. A recording HTTP proxy between
 * the gateway and the simulator holds one chosen upstream request instead of forwarding it, and
 * records whether the gateway closed it before it was answered.
 */

/** What became of a held upstream request. */
type HeldOutcome = 'closed before an answer' | 'answered';

interface HeldRequest {
  method: string;
  url: URL;
  /** Forwards the held request to the simulator. */
  release(): void;
  /** Settles when the gateway's connection for this request closes or its answer has been sent. */
  outcome: Promise<HeldOutcome>;
}

interface RecordingProxy {
  url: string;
  /** Every upstream request seen, as `METHOD /path`. */
  seen: string[];
  /** Holds the next request whose method and path match; resolves once it has arrived. */
  holdNext(method: string, pathname: string): Promise<HeldRequest>;
  stop(): Promise<void>;
}

async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const seen: string[] = [];
  let armed: { method: string; pathname: string; arrived: Deferred<HeldRequest> } | undefined;

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', target);
    seen.push(`${req.method ?? ''} ${url.pathname}`);
    const hold = armed;
    if (hold === undefined || hold.method !== req.method || hold.pathname !== url.pathname) {
      forward(req, res);
      return;
    }
    armed = undefined;
    const outcome = deferred<HeldOutcome>();
    res.on('close', () => outcome.resolve(res.writableFinished ? 'answered' : 'closed before an answer'));
    hold.arrived.resolve({ method: req.method ?? '', url, release: () => forward(req, res), outcome: outcome.promise });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    holdNext: (method, pathname) => {
      const arrived = deferred<HeldRequest>();
      armed = { method, pathname, arrived };
      return arrived.promise;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const QUERY = '{ allocations(namespace: "*", first: 5) { edges { node { allocId } } } }';

describe('a caller that disconnects mid-request', () => {
  let sim: Simulator;
  let proxy: RecordingProxy;
  let nomad: NomadClient;
  let app: App;
  let gatewayUrl = '';

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'demo', timing: { schedulerMs: 5, clientMs: 5 } });
    proxy = await startRecordingProxy(sim.url);
    // A deadline far past the test's own timeout: only the caller's abort can end a held call in time.
    nomad = createNomadClient({ address: proxy.url, timeoutMs: 120_000 });
    app = createGatewayApp(nomad);
    gatewayUrl = (await app.start(0)).url;
  });

  afterAll(async () => {
    await app.stop();
    await proxy.stop();
    await nomad.close();
    await sim.stop();
  });

  function post(signal?: AbortSignal): Promise<Response> {
    return fetch(`${gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: QUERY }),
      signal,
    });
  }

  it('should abort the gateway’s upstream request when the caller aborts its request', async () => {
    const held = proxy.holdNext('GET', '/v1/allocations');
    const caller = new AbortController();
    const response = post(caller.signal);
    const upstream = await held;
    expect(upstream.url.searchParams.get('namespace')).toBe('*');

    caller.abort();
    await expect(response).rejects.toMatchObject({ name: 'AbortError' });
    expect(await upstream.outcome).toBe('closed before an answer');
  });

  it('should answer a caller that stays, through the same proxy, once the held request is let through', async () => {
    const held = proxy.holdNext('GET', '/v1/allocations');
    const response = post();
    const upstream = await held;
    upstream.release();

    const answer = await response;
    expect(answer.status).toBe(200);
    const body = asRecord(await answer.json());
    expect(body['errors']).toBeUndefined();
    const allocIds = asArray(asRecord(asRecord(body['data'])['allocations'])['edges']).map((edge) => str(asRecord(asRecord(edge)['node'])['allocId']));
    expect(allocIds).toEqual((await simulatorAllocations(sim)).slice(0, 5).map((alloc) => alloc.allocId));
    expect(await upstream.outcome).toBe('answered');
  });
});
