import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `/exec`: a small terminal page on the exec API (`execAllocation`, `execInput`, `execResize`),
 * the proof that a browser frontend can build Nomad's exec terminal on it. Everything the page
 * loads comes from this origin: xterm.js, its fit addon and graphql-ws's browser client are read
 * from node_modules once, at start, into a fixed allow-list; a request's path only ever selects
 * an entry of that list by exact match, so no path from a URL reaches the file system.
 */

/** The page's path; its files are under `/exec/assets/`. */
export const EXEC_PAGE_PATH = '/exec';
const ASSETS_PREFIX = `${EXEC_PAGE_PATH}/assets/`;

export interface ExecPageOptions {
  /** Off: every path under `/exec` answers 404 and nothing is read from disk. */
  enabled: boolean;
  /** Where the page sends its GraphQL operations (HTTP POST and graphql-ws). */
  graphqlPath: string;
}

export type ExecPageHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Whether a request line's target is the page or one of its files (its path, whatever the query string). */
export function isExecPageRequest(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0] ?? '';
  return path === EXEC_PAGE_PATH || path.startsWith(`${EXEC_PAGE_PATH}/`);
}

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const SVG = 'image/svg+xml';

const requireHere = createRequire(import.meta.url);

/** The directory of an installed package, found as Node finds it (hoisted or not). */
function packageDir(name: string): string {
  return dirname(requireHere.resolve(`${name}/package.json`));
}

/** The browser entry graphql-ws declares for `graphql-ws/client` (`dist/client.js` in 6.x). */
function graphqlWsBrowserClient(): string {
  const dir = packageDir('graphql-ws');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> };
  const entry = manifest.exports?.['./client'];
  const browser = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)['browser'] : undefined;
  if (typeof browser !== 'string') throw new Error('graphql-ws declares no browser entry for graphql-ws/client');
  return join(dir, browser);
}

/** The specifiers of a JS module's import and export statements (at a line's start or after a `;`: not text that looks like one). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|;)\s*(?:import|export)\s*(?:[\w$*{},\s]*?\bfrom\s*)?(['"])([^'"\n]+)\1/gm)].map((match) => match[2] ?? '');
}

/**
 * Fails the start, loudly, when a served module imports what is not served (a bare package name,
 * a file left out), rather than leaving a page that breaks in the browser.
 */
function checkImports(assets: ReadonlyMap<string, Asset>): void {
  const origin = 'http://exec.invalid';
  for (const [name, served] of assets) {
    if (served.contentType !== JS) continue;
    for (const specifier of importsOf(served.body.toString('utf8'))) {
      const resolved = new URL(specifier, `${origin}${ASSETS_PREFIX}${name}`);
      const relative = /^\.{0,2}\//.test(specifier) && resolved.origin === origin && resolved.pathname.startsWith(ASSETS_PREFIX);
      if (!relative || !assets.has(resolved.pathname.slice(ASSETS_PREFIX.length))) {
        throw new Error(`the exec page's ${name} imports ${specifier}, which the exec page does not serve`);
      }
    }
  }
}

/** The file's bytes, without a trailing source map comment (the maps are not served). */
function readServed(path: string): Buffer {
  const text = readFileSync(path, 'utf8');
  return Buffer.from(text.replace(/\n\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, '\n'), 'utf8');
}

function asset(body: Buffer, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Every file the page may load, by its name under `/exec/assets/`. Read once. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const addModule = (name: string, path: string): void => {
    const body = readServed(path);
    assets.set(name, asset(body, JS));
    // A module's chunks (graphql-ws's client imports `./common-<hash>.js`) are served next to
    // it under their own names, so that its relative imports resolve to them.
    const prefix = name.slice(0, name.lastIndexOf('/') + 1);
    for (const specifier of importsOf(body.toString('utf8'))) {
      const sibling = /^\.\/([A-Za-z0-9_-]+\.js)$/.exec(specifier)?.[1];
      if (sibling !== undefined && !assets.has(prefix + sibling)) addModule(prefix + sibling, join(dirname(path), sibling));
    }
  };
  const xterm = packageDir('@xterm/xterm');
  addModule('xterm/xterm.mjs', join(xterm, 'lib/xterm.mjs'));
  assets.set('xterm/xterm.css', asset(readServed(join(xterm, 'css/xterm.css')), CSS));
  addModule('xterm/addon-fit.mjs', join(packageDir('@xterm/addon-fit'), 'lib/addon-fit.mjs'));
  addModule('graphql-ws/client.js', graphqlWsBrowserClient());
  const own = fileURLToPath(new URL('./exec-page/', import.meta.url));
  addModule('exec-terminal.js', join(own, 'exec-terminal.js'));
  assets.set('exec-terminal.css', asset(readFileSync(join(own, 'exec-terminal.css')), CSS));
  assets.set('favicon.svg', asset(readFileSync(join(own, 'favicon.svg')), SVG));
  checkImports(assets);
  return assets;
}

/** A Host header we can safely name in the CSP (a host name or IP literal, and a port). */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The policy of every response: scripts and style sheets only from this origin, GraphQL only to
 * it (HTTP, and WebSocket: `'self'` covers ws: in CSP 3 browsers, the explicit origin older
 * ones). xterm.js's DOM renderer adds `<style>` elements at run time; those carry the page's
 * nonce (see exec-terminal.js), so no other inline style is admitted.
 */
function contentSecurityPolicy(req: IncomingMessage, nonce: string | undefined): string {
  const host = req.headers.host ?? '';
  const sockets = SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self'${nonce === undefined ? '' : ` 'nonce-${nonce}'`}`,
    `connect-src 'self'${sockets}`,
    "img-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string, nonce?: string): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'content-security-policy': contentSecurityPolicy(req, nonce),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-length': String(bytes.length),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  send(req, res, 404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, 'Not found\n');
}

/** The page itself. Per response: its style nonce. Everything dynamic (the URL's parameters) is filled in by the script, as text. */
function pageHtml(graphqlPath: string, nonce: string): string {
  const attr = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const asset = (name: string): string => attr(`${ASSETS_PREFIX}${name}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Exec · Nomad GraphQL gateway</title>
<link rel="icon" href="${asset('favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${asset('xterm/xterm.css')}">
<link rel="stylesheet" href="${asset('exec-terminal.css')}">
<script type="module" src="${asset('exec-terminal.js')}" nonce="${attr(nonce)}"></script>
</head>
<body data-graphql-path="${attr(graphqlPath)}">
<header>
<h1>Exec</h1>
<p id="target">No allocation chosen.</p>
<form id="connect">
<label for="token">Nomad token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="optional">
<button type="submit" id="connect-button">Connect</button>
</form>
</header>
<main id="terminal" aria-label="Terminal"></main>
<p id="status" role="status" aria-live="polite">Loading…</p>
</body>
</html>
`;
}

/**
 * The handler of `/exec` and `/exec/...` (GET and HEAD). Reads its files now when enabled, and
 * throws if one is missing.
 */
export function createExecPage(options: ExecPageOptions): ExecPageHandler {
  const assets = options.enabled ? loadAssets() : undefined;
  return (req, res) => {
    if (assets === undefined) return notFound(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(req, res, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, 'Method not allowed\n');
    }
    // The raw path, never decoded or normalised: `/exec/assets/..%2Fx` or `/exec/assets/../x`
    // simply name no entry of the allow-list.
    const path = (req.url ?? '/').split('?', 1)[0] ?? '';
    if (path === EXEC_PAGE_PATH) {
      const nonce = randomBytes(16).toString('base64');
      return send(req, res, 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, pageHtml(options.graphqlPath, nonce), nonce);
    }
    const found = path.startsWith(ASSETS_PREFIX) ? assets.get(path.slice(ASSETS_PREFIX.length)) : undefined;
    if (found === undefined) return notFound(req, res);
    // Asset URLs are not versioned: a browser keeps them, but asks again (a 304 when unchanged).
    const headers = { 'content-type': found.contentType, 'cache-control': 'no-cache', etag: found.etag };
    if (req.headers['if-none-match'] === found.etag) {
      res.writeHead(304, { ...headers, 'x-content-type-options': 'nosniff' });
      return void res.end();
    }
    send(req, res, 200, headers, found.body);
  };
}
