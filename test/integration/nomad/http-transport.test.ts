import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestPki, type TestPki } from '../../helpers/test-pki.ts';
import { createNomadClient } from '../../../src/nomad/client.ts';
import type { NomadClient, NomadClientOptions } from '../../../src/nomad/client.ts';
import { NomadDecodeError, NomadHttpError, NomadTimeoutError, NomadUnavailableError } from '../../../src/nomad/errors.ts';
import { createNomadTransport, type NomadExchange, type NomadHttpRequest } from '../../../src/nomad/http.ts';

const STUB =
  '{"ClientStatus":"running","CreateIndex":10,"CreateTime":1636017249798459000,"DesiredStatus":"run",' +
  '"DesiredTransition":{"ForceReschedule":null,"Migrate":null,"Reschedule":null},"ID":"5457f16d-0f87-8e6b-5e91-0c7da3a41eb7",' +
  '"JobID":"example","ModifyIndex":15,"ModifyTime":1636017262190928000,"TaskStates":null}';
const ALLOC = '{"ClientStatus":"running","CreateIndex":54,"DesiredStatus":"run","ID":"a8198d79-cfdb-6593-a999-1e9adabcba2e","ModifyIndex":57}';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  servername: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  address: string;
  requests: Recorded[];
  connections: () => number;
  /** Resolves with the next request the server receives. */
  nextRequest: () => Promise<Recorded>;
}

function json(res: ServerResponse, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
}

async function listen(server: Server, protocol: 'http' | 'https', handler: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const waiters: ((r: Recorded) => void)[] = [];
  let connections = 0;
  server.on(protocol === 'https' ? 'secureConnection' : 'connection', () => {
    connections++;
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const { socket } = req;
      const servername = 'servername' in socket && typeof socket.servername === 'string' ? socket.servername : undefined;
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, servername };
      requests.push(recorded);
      waiters.shift()?.(recorded);
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    address: `${protocol}://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

function startServer(handler: Handler): Promise<TestServer> {
  return listen(createServer(), 'http', handler);
}

function client(options: NomadClientOptions): NomadClient {
  const c = createNomadClient(options);
  onTestFinished(() => c.close());
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('Nomad HTTP transport', () => {
  it('should send the token only in the X-Nomad-Token header and never in the URL', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    const nomad = client({ address: server.address, token: 'default-secret' });
    await nomad.listAllocations();
    await nomad.listAllocations({ token: 'caller-secret' });
    await nomad.listAllocations({ token: '' });
    const [first, second, third] = server.requests;
    expect(first?.headers['x-nomad-token']).toBe('default-secret');
    expect(second?.headers['x-nomad-token']).toBe('caller-secret');
    expect(third?.headers['x-nomad-token']).toBeUndefined();
    for (const r of server.requests) {
      expect(r.url).not.toContain('secret');
      expect(r.headers['accept-encoding']).toBe('gzip');
      expect(r.method).toBe('GET');
    }
  });

  it('should ask for an uncompressed body when gzip is turned off', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    const nomad = client({ address: server.address, gzip: false });
    await nomad.listAllocations();
    expect(server.requests[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('should encode list query parameters the way the Go client does', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    const nomad = client({ address: server.address, namespace: 'prod', region: 'eu' });
    await nomad.listAllocations({
      namespace: '*',
      prefix: 'a8198d79',
      filter: 'ClientStatus == "running" and TaskGroup == web',
      perPage: 2,
      nextToken: '1003.aaaaaaaa-3350-4b4b-d185-0e1992ed43e9',
      reverse: true,
      resources: true,
      taskStates: false,
      index: 12n,
      waitMs: 5000,
      stale: true,
    });
    await nomad.listAllocations({ reverse: false });
    const [full, plain] = server.requests;
    const url = new URL(full?.url ?? '', server.address);
    expect(url.pathname).toBe('/v1/allocations');
    expect(Object.fromEntries(url.searchParams)).toStrictEqual({
      filter: 'ClientStatus == "running" and TaskGroup == web',
      index: '12',
      namespace: '*',
      next_token: '1003.aaaaaaaa-3350-4b4b-d185-0e1992ed43e9',
      per_page: '2',
      prefix: 'a8198d79',
      region: 'eu',
      resources: 'true',
      reverse: 'true',
      stale: '',
      task_states: 'false',
      wait: '5000ms',
    });
    expect(full?.url).toContain('stale=&');
    expect(plain?.url).toBe('/v1/allocations?namespace=prod&region=eu');
  });

  it('should parse X-Nomad metadata headers whatever their case', async () => {
    const server = await startServer((_req, res) =>
      json(res, `[${STUB}]`, {
        'X-Nomad-Index': '18446744073709551615',
        'X-Nomad-Knownleader': 'true',
        'X-Nomad-Lastcontact': '42',
        'X-Nomad-Nexttoken': '1003.aaaaaaaa-3350-4b4b-d185-0e1992ed43e9',
      }),
    );
    const { items, meta } = await client({ address: server.address }).listAllocations();
    expect(meta).toStrictEqual({
      LastIndex: 18446744073709551615n,
      KnownLeader: true,
      LastContact: 42,
      NextToken: '1003.aaaaaaaa-3350-4b4b-d185-0e1992ed43e9',
    });
    expect(items[0]?.CreateTime).toBe(1636017249798459000n);
  });

  it('should fall back to zero metadata when the headers are absent or garbled', async () => {
    const server = await startServer((_req, res) =>
      json(res, ALLOC, { 'X-Nomad-Index': 'abc', 'X-Nomad-KnownLeader': 'TRUE', 'X-Nomad-LastContact': '-1' }),
    );
    const { item, meta } = await client({ address: server.address }).readAllocation('a8198d79-cfdb-6593-a999-1e9adabcba2e');
    expect(meta).toStrictEqual({ LastIndex: 0n, KnownLeader: false, LastContact: 0, NextToken: '' });
    expect(item.ModifyIndex).toBe(57n);
  });

  it('should reject a 204 like the Go client does', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const error = await rejection(client({ address: server.address }).stopAllocation('x'));
    expect(error).toBeInstanceOf(NomadHttpError);
    expect(error).toMatchObject({ status: 204, nomadMessage: '', method: 'POST', path: '/v1/allocation/x/stop' });
  });

  it('should turn a plain-text error body into a NomadHttpError with the metadata headers', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Nomad-Index': '77' });
      res.end('alloc not found');
    });
    const id = 'a8198d79-cfdb-6593-a999-1e9adabcba2e';
    const error = await rejection(
      client({ address: server.address, token: 'default-secret' }).readAllocation(id, { index: 3n, namespace: 'prod' }),
    );
    expect(error).toBeInstanceOf(NomadHttpError);
    if (!(error instanceof NomadHttpError)) return;
    expect(error.status).toBe(404);
    expect(error.nomadMessage).toBe('alloc not found');
    expect(error.method).toBe('GET');
    expect(error.path).toBe(`/v1/allocation/${id}`);
    expect(error.message).toBe(`Nomad GET /v1/allocation/${id}: 404 alloc not found`);
    expect(error.meta.LastIndex).toBe(77n);
  });

  it('should never repeat the token in an error, even when the body echoes it', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`token ${String(req.headers['x-nomad-token'])} not found`);
    });
    const error = await rejection(client({ address: server.address, token: 'default-secret' }).readJob('web'));
    expect(error).toBeInstanceOf(NomadHttpError);
    expect(String(error)).not.toContain('default-secret');
    expect(error).toMatchObject({ nomadMessage: 'token <redacted> not found' });
  });

  it('should raise NomadTimeoutError when the server never answers', async () => {
    const server = await startServer(() => {});
    const started = Date.now();
    const error = await rejection(client({ address: server.address }).readNode('n1', { timeoutMs: 150 }));
    expect(error).toBeInstanceOf(NomadTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 150, method: 'GET', path: '/v1/node/n1' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('should give a blocking query its wait times 17/16 on top of the timeout', async () => {
    const server = await startServer((_req, res) => {
      setTimeout(() => json(res, '[]', { 'X-Nomad-Index': '13' }), 300);
    });
    const nomad = client({ address: server.address, timeoutMs: 100 });
    const { meta } = await nomad.allocationServices('a1', { index: 12n, waitMs: 400 });
    expect(meta.LastIndex).toBe(13n);
    expect(server.requests[0]?.url).toBe('/v1/allocation/a1/services?index=12&wait=400ms');
    const error = await rejection(nomad.allocationServices('a1', { waitMs: 400 }));
    expect(error).toBeInstanceOf(NomadTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 100 });
  });

  it('should raise NomadUnavailableError when the connection is refused', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const nomad = client({ address: `http://127.0.0.1:${port}`, token: 'default-secret' });
    const error = await rejection(nomad.readEvaluation('e1'));
    expect(error).toBeInstanceOf(NomadUnavailableError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', method: 'GET', path: '/v1/evaluation/e1' });
    expect(error).toHaveProperty('cause');
    expect(String(error)).not.toContain('default-secret');
  });

  it('should raise NomadUnavailableError when the server resets the connection', async () => {
    const server = await startServer((req) => req.socket.destroy());
    const error = await rejection(client({ address: server.address }).listAllocations());
    expect(error).toBeInstanceOf(NomadUnavailableError);
  });

  it('should reject with the caller signal reason, not a timeout, when the caller aborts', async () => {
    const server = await startServer(() => {});
    const nomad = client({ address: server.address });
    const controller = new AbortController();
    const call = rejection(nomad.listAllocations({ signal: controller.signal, index: 5n }));
    await server.nextRequest();
    controller.abort();
    const error = await call;
    expect(error).toBeInstanceOf(DOMException);
    expect(error).toMatchObject({ name: 'AbortError' });

    const custom = new Error('subscriber went away');
    const second = new AbortController();
    const secondCall = rejection(nomad.listAllocations({ signal: second.signal }));
    await server.nextRequest();
    second.abort(custom);
    expect(await secondCall).toBe(custom);
  });

  it('should not send anything when the signal is already aborted', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    const reason = new Error('already gone');
    const error = await rejection(client({ address: server.address }).listAllocations({ signal: AbortSignal.abort(reason) }));
    expect(error).toBe(reason);
    expect(server.requests).toHaveLength(0);
  });

  it('should report every exchange to onExchange with its route template, never its path', async () => {
    const server = await startServer((req, res) => {
      if (req.url?.startsWith('/v1/allocation/')) json(res, ALLOC, { 'X-Nomad-Index': '57' });
      else if (req.url?.startsWith('/v1/node/')) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('node not found');
      } else if (req.url?.startsWith('/v1/evaluation/')) req.socket.destroy();
      // anything else is never answered
    });
    const exchanges: NomadExchange[] = [];
    let clock = 0;
    const transport = createNomadTransport({ address: server.address, onExchange: (e) => exchanges.push(e), now: () => (clock += 5) });
    onTestFinished(() => transport.close());
    // Each of these fails; what matters is what onExchange heard.
    const send = (path: string, route: string | undefined, extra: Partial<NomadHttpRequest<unknown>> = {}) =>
      rejection(transport.send({ method: 'GET', path, route, decode: (v) => v, ...extra }));
    await transport.send({ method: 'GET', path: '/v1/allocation/a8198d79', route: '/v1/allocation/:id', decode: (v) => v, index: 3n, waitMs: 1_000 });
    await send('/v1/node/n-secret-id', '/v1/node/:id');
    await send('/v1/evaluation/e1', '/v1/evaluation/:id');
    await send('/v1/job/j1', '/v1/job/:id', { timeoutMs: 50 });
    const controller = new AbortController();
    const aborted = send('/v1/job/j2', '/v1/job/:id', { signal: controller.signal });
    await server.nextRequest();
    controller.abort();
    await aborted;
    await send('/v1/job/j3', '/v1/job/:id', { signal: AbortSignal.abort() });
    await send('/v1/some/thing', undefined, { timeoutMs: 50 });

    expect(exchanges.map((e) => [e.method, e.route, e.status, e.blocking])).toEqual([
      ['GET', '/v1/allocation/:id', 200, true],
      ['GET', '/v1/node/:id', 404, false],
      ['GET', '/v1/evaluation/:id', 'error', false],
      ['GET', '/v1/job/:id', 'timeout', false],
      ['GET', '/v1/job/:id', 'aborted', false],
      ['GET', '/v1/job/:id', 'aborted', false],
      ['GET', 'other', 'timeout', false],
    ]);
    expect(exchanges.every((e) => e.durationMs === 5)).toBe(true);
  });

  it('should decode a gzip body', async () => {
    const server = await startServer((req, res) => {
      const gzip = String(req.headers['accept-encoding']).includes('gzip');
      res.writeHead(200, { 'Content-Type': 'application/json', ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) });
      res.end(gzip ? gzipSync(`[${STUB},${STUB}]`) : '[]');
    });
    const { items } = await client({ address: server.address }).listAllocations();
    expect(items).toHaveLength(2);
    expect(items[1]?.ModifyTime).toBe(1636017262190928000n);
  });

  it('should reuse one kept-alive connection for consecutive calls', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    const nomad = client({ address: server.address });
    for (let i = 0; i < 6; i++) await nomad.listAllocations();
    // undici may open a second socket when a call is dispatched in the same tick as the
    // previous response completes; it then alternates between the two, never opening more.
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it('should send lifecycle writes as POST with query flags or JSON bodies', async () => {
    const server = await startServer((req, res) =>
      json(res, req.url?.includes('/stop') === true ? '{"EvalID":"e9","Index":54}' : '{"Index":0}'),
    );
    const nomad = client({ address: server.address });
    expect(await nomad.stopAllocation('a/b c', { noShutdownDelay: true })).toStrictEqual({ EvalID: 'e9', Index: 54n });
    expect(await nomad.signalAllocation('a1', { signalName: 'SIGUSR1', task: 'web' })).toStrictEqual({ Index: 0n });
    await nomad.signalAllocation('a1', { signalName: 'SIGHUP' });
    await nomad.restartAllocation('a1', { allTasks: true });
    const [stop, signal, signalAll, restart] = server.requests;
    expect(stop).toMatchObject({ method: 'POST', url: '/v1/allocation/a%2Fb%20c/stop?no_shutdown_delay=true', body: '' });
    expect(signal).toMatchObject({ method: 'POST', url: '/v1/client/allocation/a1/signal', body: '{"Signal":"SIGUSR1","Task":"web"}' });
    expect(signal?.headers['content-type']).toBe('application/json');
    expect(signalAll?.body).toBe('{"Signal":"SIGHUP","Task":""}');
    expect(restart).toMatchObject({ url: '/v1/client/allocation/a1/restart', body: '{"AllTasks":true,"TaskName":""}' });
  });

  it('should read jobs, nodes and evaluations from their own paths', async () => {
    const server = await startServer((req, res) => {
      if (req.url?.startsWith('/v1/job/') === true) json(res, '{"ID":"batch/dispatch-1","Type":"batch"}');
      else if (req.url?.startsWith('/v1/node/') === true) json(res, '{"ID":"n1","Status":"ready"}');
      else json(res, '{"ID":"e1","Status":"complete"}');
    });
    const nomad = client({ address: server.address });
    expect((await nomad.readJob('batch/dispatch-1', { namespace: 'prod' })).item.ID).toBe('batch/dispatch-1');
    expect((await nomad.readNode('n1')).item.Status).toBe('ready');
    expect((await nomad.readEvaluation('e1', { stale: true })).item.Status).toBe('complete');
    expect(server.requests.map((r) => r.url)).toStrictEqual([
      '/v1/job/batch%2Fdispatch-1?namespace=prod',
      '/v1/node/n1',
      '/v1/evaluation/e1?stale=',
    ]);
  });

  it('should report a 200 body that is empty, not JSON, or of the wrong shape as NomadDecodeError', async () => {
    const bodies = ['', '{"ID":', `[${STUB},{"ClientStatus":"done","DesiredStatus":"run"}]`];
    const server = await startServer((_req, res) => json(res, bodies[server.requests.length - 1] ?? ''));
    const nomad = client({ address: server.address });
    const empty = await rejection(nomad.listAllocations());
    expect(empty).toBeInstanceOf(NomadDecodeError);
    expect(empty).toMatchObject({ jsonPath: '$', received: 'an empty body' });
    const garbled = await rejection(nomad.listAllocations());
    expect(garbled).toMatchObject({ name: 'NomadDecodeError', jsonPath: '$', expected: 'valid JSON' });
    const wrong = await rejection(nomad.listAllocations({ namespace: 'prod' }));
    expect(wrong).toMatchObject({ jsonPath: '$[1].ClientStatus', method: 'GET', path: '/v1/allocations' });
    expect(String(wrong)).toContain('Nomad GET /v1/allocations: unexpected response at $[1].ClientStatus');
  });

  it('should refuse an address or option set it cannot honour', () => {
    expect(() => createNomadTransport({ address: 'ftp://nomad:4646' })).toThrow(TypeError);
    expect(() => createNomadTransport({ address: 'http://127.0.0.1:4646', tls: { insecureSkipVerify: true } })).toThrow(
      /https/,
    );
    expect(() => createNomadTransport({ address: 'http://127.0.0.1:4646', timeoutMs: 0 })).toThrow(RangeError);
  });

  it('should keep a path prefix of the address for Nomad behind a proxy', async () => {
    const server = await startServer((_req, res) => json(res, '[]'));
    await client({ address: `${server.address}/nomad/` }).listAllocations();
    expect(server.requests[0]?.url).toBe('/nomad/v1/allocations');
  });
});

describe('Nomad HTTP transport over TLS', () => {
  let pki: TestPki | undefined;
  const pem = (name: Parameters<TestPki['pem']>[0]): string => {
    if (pki === undefined) throw new Error('no test PKI yet');
    return pki.pem(name);
  };

  beforeAll(() => {
    pki = createTestPki();
  });

  afterAll(() => {
    pki?.dispose();
  });

  function startTlsServer(requireClientCert: boolean): Promise<TestServer> {
    const server = createHttpsServer({
      key: pem('server.key'),
      cert: pem('server.pem'),
      ca: pem('ca.pem'),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    });
    return listen(server, 'https', (_req, res) => json(res, '[]', { 'X-Nomad-Index': '5' }));
  }

  it('should verify the server against the given CA under the given server name', async () => {
    const server = await startTlsServer(false);
    const nomad = client({ address: server.address, tls: { ca: pem('ca.pem'), serverName: 'server.global.nomad' } });
    const { meta } = await nomad.listAllocations();
    expect(meta.LastIndex).toBe(5n);
    expect(server.requests[0]?.servername).toBe('server.global.nomad');
  });

  it('should send the server name even when the address is a DNS name', async () => {
    const server = await startTlsServer(false);
    const address = server.address.replace('127.0.0.1', 'localhost');
    const nomad = client({ address, tls: { ca: Buffer.from(pem('ca.pem')), serverName: 'server.global.nomad' } });
    await nomad.listAllocations();
    expect(server.requests[0]?.servername).toBe('server.global.nomad');
  });

  it('should present a client certificate for mutual TLS', async () => {
    const server = await startTlsServer(true);
    const tls = { ca: [pem('ca.pem')], cert: pem('client.pem'), key: pem('client.key'), serverName: 'server.global.nomad' };
    await client({ address: server.address, tls }).listAllocations();
    expect(server.requests).toHaveLength(1);
    const withoutCert = client({ address: server.address, tls: { ca: pem('ca.pem'), serverName: 'server.global.nomad' } });
    const refused = await rejection(withoutCert.listAllocations());
    expect(refused).toBeInstanceOf(NomadUnavailableError);
  });

  it('should refuse a server it cannot verify unless told to skip verification', async () => {
    const server = await startTlsServer(false);
    const noCa = client({ address: server.address, tls: { serverName: 'server.global.nomad' } });
    const untrusted = await rejection(noCa.listAllocations());
    expect(untrusted).toBeInstanceOf(NomadUnavailableError);
    const wrongName = await rejection(client({ address: server.address, tls: { ca: pem('ca.pem') } }).listAllocations());
    expect(wrongName).toBeInstanceOf(NomadUnavailableError);
    expect(wrongName).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await client({ address: server.address, tls: { insecureSkipVerify: true } }).listAllocations();
  });
});
