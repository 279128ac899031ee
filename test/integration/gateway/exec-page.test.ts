import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { createGatewayApp, useGatewayStack } from '../../helpers/gateway.ts';

/**
 * `/exec`, the exec terminal page, over HTTP on a real gateway: the page and each of its files
 * (read from node_modules, served from our own origin), their types, caching and security
 * headers, and the allow-list: any other path under /exec, however spelled, is a 404.
 */

const requireHere = createRequire(import.meta.url);
const packageDir = (name: string): string => dirname(requireHere.resolve(`${name}/package.json`));
const ownDir = join(import.meta.dirname, '../../../src/server/exec-page');

/** graphql-ws's browser client imports one shared chunk, whose name carries a content hash. */
const graphqlWsDist = join(packageDir('graphql-ws'), 'dist');
const graphqlWsChunk = /from '\.\/(common-[\w-]+\.js)'/.exec(readFileSync(join(graphqlWsDist, 'client.js'), 'utf8'))?.[1] ?? 'no chunk found';

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Every file the page may load: its name under /exec/assets/, type, and the file it is read from. */
const ASSETS: { name: string; type: string; file: string }[] = [
  { name: 'xterm/xterm.mjs', type: JS, file: join(packageDir('@xterm/xterm'), 'lib/xterm.mjs') },
  { name: 'xterm/xterm.css', type: CSS, file: join(packageDir('@xterm/xterm'), 'css/xterm.css') },
  { name: 'xterm/addon-fit.mjs', type: JS, file: join(packageDir('@xterm/addon-fit'), 'lib/addon-fit.mjs') },
  { name: 'graphql-ws/client.js', type: JS, file: join(graphqlWsDist, 'client.js') },
  { name: `graphql-ws/${graphqlWsChunk}`, type: JS, file: join(graphqlWsDist, graphqlWsChunk) },
  { name: 'exec-terminal.js', type: JS, file: join(ownDir, 'exec-terminal.js') },
  { name: 'exec-terminal.css', type: CSS, file: join(ownDir, 'exec-terminal.css') },
  { name: 'favicon.svg', type: 'image/svg+xml', file: join(ownDir, 'favicon.svg') },
];

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the request target sent exactly as given (fetch would normalise `..`). */
function raw(baseUrl: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A CSP header as directive name → its sources. */
function parseCsp(header: unknown): Map<string, string[]> {
  if (typeof header !== 'string') throw new Error(`no Content-Security-Policy: ${String(header)}`);
  return new Map(
    header
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name = '', ...sources]) => [name, sources]),
  );
}

/** What a source file is served as: itself, without a trailing source map comment. */
function served(file: string): string {
  return readFileSync(file, 'utf8').replace(/\n\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, '\n');
}

describe('the exec page over HTTP', () => {
  const stack = useGatewayStack();

  it('should serve the page with a strict CSP whose style nonce is fresh for each response', async () => {
    const first = await raw(stack().url, '/exec?alloc=0b4f2c6e-2a5d-4d3e-9c1a-1f2e3d4c5b6a&task=server');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['x-frame-options']).toBe('DENY');
    expect(first.headers['referrer-policy']).toBe('no-referrer');

    const { host } = new URL(stack().url);
    const csp = parseCsp(first.headers['content-security-policy']);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('style-src')).toEqual(["'self'", expect.stringMatching(/^'nonce-[A-Za-z0-9+/]{22}=='$/)]);
    expect(csp.get('connect-src')).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(first.headers['content-security-policy']).not.toMatch(/unsafe-|\*|data:|https?:/);

    // The nonce is on the page's script (which hands it to xterm.js's <style> elements), and new per response.
    const nonce = (csp.get('style-src')?.[1] ?? '').slice("'nonce-".length, -1);
    expect(first.body).toContain(`<script type="module" src="/exec/assets/exec-terminal.js" nonce="${nonce}"></script>`);
    const second = await raw(stack().url, '/exec');
    expect(parseCsp(second.headers['content-security-policy']).get('style-src')?.[1]).not.toBe(`'nonce-${nonce}'`);

    // Everything it loads is under /exec/assets/; the URL's parameters are not written into it.
    const loaded = [...first.body.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1]);
    expect(loaded).toEqual(['/exec/assets/favicon.svg', '/exec/assets/xterm/xterm.css', '/exec/assets/exec-terminal.css', '/exec/assets/exec-terminal.js']);
    expect(first.body).not.toContain('0b4f2c6e');
    expect(first.body).toContain('<body data-graphql-path="/graphql">');
    // The token field is labelled, masked, and has no name, so no form can put it in a URL.
    expect(first.body).toContain('<label for="token">Nomad token</label>');
    expect(first.body).toMatch(/<input id="token" type="password" autocomplete="off"[^>]*>/);
    expect(first.body).not.toMatch(/<input[^>]*\bname=/);
    expect(first.body).toContain('<p id="status" role="status" aria-live="polite">');
  });

  it('should serve every asset from node_modules or src with its type, caching and security headers', async () => {
    expect(graphqlWsChunk).toMatch(/^common-[\w-]+\.js$/);
    for (const { name, type, file } of ASSETS) {
      const response = await raw(stack().url, `/exec/assets/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers['content-type'], name).toBe(type);
      expect(response.headers['cache-control'], name).toBe('no-cache');
      expect(response.headers['etag'], name).toMatch(/^"[\w-]{27}"$/);
      expect(response.headers['x-content-type-options'], name).toBe('nosniff');
      expect(parseCsp(response.headers['content-security-policy']).get('script-src'), name).toEqual(["'self'"]);
      expect(response.body, name).toBe(served(file));
      expect(response.body, name).not.toContain('sourceMappingURL');

      // Unchanged since the browser's copy: 304, no body.
      const again = await raw(stack().url, `/exec/assets/${name}`, { headers: { 'if-none-match': String(response.headers['etag']) } });
      expect(again.status, name).toBe(304);
      expect(again.body, name).toBe('');
    }
    // A query string does not change what is served.
    expect((await raw(stack().url, '/exec/assets/xterm/xterm.css?v=1')).status).toBe(200);
  });

  it('should serve every module the page script imports, and what those import, transitively', async () => {
    const seen = new Set<string>();
    const pending = ['/exec/assets/exec-terminal.js'];
    while (pending.length > 0) {
      const path = pending.pop() ?? '';
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await raw(stack().url, path);
      expect(response.status, path).toBe(200);
      expect(response.headers['content-type'], path).toBe(JS);
      for (const match of response.body.matchAll(/(?:^|;)\s*(?:import|export)\s*(?:[\w$*{},\s]*?\bfrom\s*)?(['"])([^'"\n]+)\1/gm)) {
        pending.push(new URL(match[2] ?? '', `http://x${path}`).pathname);
      }
    }
    expect([...seen].sort()).toEqual(
      ASSETS.filter(({ type }) => type === JS)
        .map(({ name }) => `/exec/assets/${name}`)
        .sort(),
    );
  });

  it('should answer HEAD like GET without a body, and 405 to other methods', async () => {
    const head = await raw(stack().url, '/exec/assets/xterm/addon-fit.mjs', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe(JS);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(served(ASSETS[2]?.file ?? '')));
    expect(head.body).toBe('');

    const post = await raw(stack().url, '/exec', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });

  it.each([
    '/exec/',
    '/exec/assets',
    '/exec/assets/',
    '/exec/assets/nope.js',
    '/exec/assets/xterm.mjs',
    '/exec/assets/XTERM/xterm.mjs',
    '/exec/assets/xterm/xterm.mjs.map',
    '/exec/assets/xterm/lib/xterm.mjs',
    '/exec/assets/exec-terminal.ts',
    '/exec/assets/../package.json',
    '/exec/assets/../../package.json',
    '/exec/assets/xterm/../../../package.json',
    '/exec/../package.json',
    '/exec/assets/..%2Fpackage.json',
    '/exec/assets/..%2F..%2F..%2Fpackage.json',
    '/exec/assets/%2e%2e/%2e%2e/package.json',
    '/exec/assets/xterm%2Fxterm.mjs',
    '/exec/assets/xterm%2fxterm.css',
    '/exec/assets/xterm%5Cxterm.mjs',
    '/exec/assets/.%2Fexec-terminal.js',
    '/exec/assets//etc/passwd',
    '/exec/assets/%2Fetc%2Fpasswd',
    '/exec/assets/exec-terminal.js%00.css',
    '/exec/assets/graphql-ws/index.js',
    '/exec/assets/graphql-ws/client.cjs',
    '/exec/assets/node_modules/@xterm/xterm/package.json',
  ])('should answer 404 to GET %s', async (path) => {
    const response = await raw(stack().url, path);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.body).toBe('Not found\n');
  });

  it('should leave every other path to the gateway', async () => {
    expect((await raw(stack().url, '/healthz')).status).toBe(200);
    const lookalike = await raw(stack().url, '/execute');
    expect(lookalike.status).toBe(404);
    expect(lookalike.body).not.toBe('Not found\n');
    const graphql = await stack().graphql('{ __typename }');
    expect(graphql.data).toEqual({ __typename: 'Query' });
  });
});

describe('the exec page when disabled', () => {
  let nomad: NomadClient;
  let app: App;
  let url = '';

  beforeAll(async () => {
    // Nothing here reaches Nomad.
    nomad = createNomadClient({ address: 'http://127.0.0.1:9' });
    app = createGatewayApp(nomad, { execPage: { enabled: false } });
    ({ url } = await app.start(0));
  });

  afterAll(async () => {
    await app.stop();
    await nomad.close();
  });

  it.each(['/exec', '/exec?alloc=x&task=y', '/exec/assets/xterm/xterm.mjs', '/exec/assets/exec-terminal.js'])('should answer 404 to GET %s', async (path) => {
    const response = await raw(url, path);
    expect(response.status).toBe(404);
    expect(response.body).toBe('Not found\n');
  });

  it('should still serve the gateway', async () => {
    expect((await raw(url, '/healthz')).status).toBe(200);
  });
});
