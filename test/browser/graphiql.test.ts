import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeGlobalId } from '../../src/schema/global-id.ts';
import { useGatewayStack } from '../helpers/gateway.ts';

/**
 * GraphiQL as a person gets it: a real Chromium opens /graphql, the editor comes up with our
 * default query, the run button runs it against the simulator, and a typed query runs too.
 * The page is served from node_modules (stack.md gotcha 14), so it must never leave 127.0.0.1.
 */

const CHROMIUM = '/usr/bin/chromium';
const MISSING_CHROMIUM = `${CHROMIUM} is missing: these browser tests need Debian's Chromium, so run \`apt-get install -y chromium\` (.ci/run does)`;
/** node-svc.md, "Known to work": without the background-networking flags this closed network refuses Chromium. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Every single wait (navigation, an element, a result). The page is a 9 MB inline bundle. */
const WAIT_MS = 20_000;
/** A test holds at most a few waits. */
const TEST_MS = 3 * WAIT_MS;

const QUERY_EDITOR = '.graphiql-query-editor .view-lines';
const RESPONSE_PANE = '.graphiql-response .view-lines';

/**
 * The text a person sees in one of GraphiQL's Monaco editors. Monaco renders the visible lines as
 * absolutely placed `.view-line`s (not always in DOM order) and spaces as U+00A0.
 */
function editorText(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((root) =>
    [...root.querySelectorAll<HTMLElement>('.view-line')]
      .map((line) => ({ top: Number.parseFloat(line.style.top) || 0, text: (line.textContent ?? '').replaceAll('\u00a0', ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text)
      .join('\n'),
  );
}

/** Waits until the pane shows every one of `needles`, then returns its text. */
async function waitForText(page: Page, selector: string, needles: string[]): Promise<string> {
  await page.waitForFunction(
    ({ selector, needles }) => {
      const text = (document.querySelector(selector)?.textContent ?? '').replaceAll('\u00a0', ' ');
      return needles.every((needle) => text.includes(needle));
    },
    { selector, needles },
    { timeout: WAIT_MS },
  );
  return editorText(page, selector);
}

/** http(s)/ws(s) to 127.0.0.1, blob: made by a 127.0.0.1 page, or inline data:. Anything else left the machine. */
function isLocal(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:') return true;
  const target = parsed.protocol === 'blob:' ? new URL(parsed.pathname) : parsed;
  return ['http:', 'https:', 'ws:', 'wss:'].includes(target.protocol) && target.hostname === '127.0.0.1';
}

describe('GraphiQL in headless Chromium', () => {
  const stack = useGatewayStack();

  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let allocationIds: string[] = [];
  let screenshotTaken = false;

  const requests: string[] = [];
  const failedRequests: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  /** Every test fails (none is skipped) when Chromium is missing: CI must install it. */
  function openPage(): Page {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
    if (page === undefined) throw new Error('the browser page was not opened (see the beforeAll error)');
    return page;
  }

  /** What every test also proves: nothing broke and nothing left 127.0.0.1 so far. */
  function expectCleanPage(): void {
    expect(pageErrors, 'pageerror events').toEqual([]);
    expect(consoleErrors, 'console errors').toEqual([]);
    expect(failedRequests, 'failed requests').toEqual([]);
    expect(requests.filter((url) => !isLocal(url)), 'requests outside 127.0.0.1').toEqual([]);
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return; // each test then fails with MISSING_CHROMIUM
    const { allocations } = stack().sim.cluster.createJob({ id: 'web', count: 2 });
    allocationIds = allocations.map((allocation) => allocation.ID);
    await stack().sim.cluster.idle();

    // launch() already gives Chromium a fresh, empty --user-data-dir of its own and removes it on close().
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    context = await browser.newContext({ viewport: { width: 1280, height: 960 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    // On the context, so requests from GraphiQL's Monaco workers count too.
    context.on('request', (request) => requests.push(request.url()));
    context.on('requestfailed', (request) => failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? '?'}`));
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('websocket', (socket) => requests.push(socket.url()));
  }, 4 * WAIT_MS);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async ({ task }) => {
      if (screenshotTaken || page === undefined || page.isClosed()) return;
      screenshotTaken = true;
      const path = join(mkdtempSync(join(tmpdir(), 'graphiql-failure-')), 'page.png');
      await page.screenshot({ path, timeout: WAIT_MS }).then(
        () => console.error(`"${task.name}" failed; screenshot of the page: ${path}`),
        (error: unknown) => console.error(`"${task.name}" failed; no screenshot: ${String(error)}`),
      );
    });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  it('should open the GraphiQL editor and its run button on a page navigation to /graphql', async () => {
    const page = openPage();
    const response = await page.goto(`${stack().url}/graphql`, { waitUntil: 'commit' });
    expect(response?.status()).toBe(200);
    expect(await response?.request().headerValue('accept')).toMatch(/^text\/html\b/);
    expect(await response?.headerValue('content-type')).toMatch(/^text\/html\b/);

    await page.locator(QUERY_EDITOR).waitFor({ state: 'visible' });
    await page.getByRole('button', { name: /^Execute query/ }).waitFor({ state: 'visible' });
    expect(await page.title()).toBe('Nomad GraphQL gateway');
    expectCleanPage();
  }, TEST_MS);

  it('should show the default allocations query in the editor', async () => {
    const page = openPage();
    const query = await waitForText(page, QUERY_EDITOR, ['# Allocations across every namespace']);
    expect(query.startsWith('# Allocations across every namespace')).toBe(true);
    expect(query).toContain('allocations(namespace: "*", first: 20, after: $after) {');
    // The global id first, then Nomad's own UUID.
    expect(query).toMatch(/\n\s*id\n\s*allocId\n/);
    expectCleanPage();
  }, TEST_MS);

  it('should show the allocations of the simulator when the run button is clicked', async () => {
    const page = openPage();
    expect(allocationIds).toHaveLength(2);
    await page.getByRole('button', { name: /^Execute query/ }).click();

    const result = await waitForText(page, RESPONSE_PANE, ['"allocations"', ...allocationIds]);
    expect(result).toContain('"data": {');
    expect(result).not.toContain('"errors"');
    // `id` is the global id, Nomad's UUID is `allocId` right after it. Monaco wraps a long global
    // id over several lines, so compare without whitespace (no value here holds any).
    const compact = result.replace(/\s+/g, '');
    for (const id of allocationIds) expect(compact).toContain(`"id":"${encodeGlobalId({ type: 'Allocation', id })}","allocId":"${id}"`);
    expect(result).toContain('"name": "web.web[0]"');
    expectCleanPage();
  }, TEST_MS);

  it('should run a query typed into the editor and show the one allocation it asks for', async () => {
    const page = openPage();
    const id = allocationIds[1] ?? '';
    const query = `{ allocation(id: "${id}") { id allocId name taskStates { name state } } }`;

    await page.locator(QUERY_EDITOR).click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText(query);
    // Monaco may auto-close a bracket or quote after the cursor: drop whatever is left behind it.
    await page.keyboard.press('Shift+ControlOrMeta+End');
    await page.keyboard.press('Delete');
    expect(await editorText(page, QUERY_EDITOR)).toBe(query);
    // GraphiQL commits an edit to its tab state a moment later (debounced); run before that and
    // it sends the previous query or its operation name ("Cannot infer operation Allocations").
    // A person is never that fast: wait until the tab's title and the saved tab state (which
    // GraphiQL keeps in localStorage) both hold the new query.
    await page.getByText('<untitled>', { exact: true }).first().waitFor({ timeout: WAIT_MS });
    await page.waitForFunction(
      (text) => Object.keys(localStorage).some((key) => (localStorage.getItem(key) ?? '').includes(text)),
      `allocation(id: \\"${id}\\")`,
      { timeout: WAIT_MS },
    );

    await page.getByRole('button', { name: /^Execute query/ }).click();
    const result = await waitForText(page, RESPONSE_PANE, ['"allocation"', id]);
    expect(result).not.toContain('"allocations"');
    expect(result).not.toContain('"errors"');
    // Monaco wraps the long global id over lines: compare it without whitespace.
    expect(result.replace(/\s+/g, '')).toContain(`"id":"${encodeGlobalId({ type: 'Allocation', id })}","allocId":"${id}"`);
    expect(result).toContain('"name": "web.web[1]"');
    expect(result).toMatch(/"name": "server",\s*"state": "RUNNING"/);
    expectCleanPage();
  }, TEST_MS);
});
