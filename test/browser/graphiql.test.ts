import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalId } from '../../src/schema/global-id.ts';
import { useGatewayStack } from '../helpers/gateway.ts';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  MISSING_CHROMIUM,
  QUERY_EDITOR,
  RESPONSE_PANE,
  TEST_MS,
  WAIT_MS,
  editorText,
  isLocal,
  typeQuery,
  screenshotOnFirstFailure,
  waitForText,
} from './graphiql-page.ts';

/**
 * GraphiQL as a person gets it: a real Chromium opens /graphql, the editor comes up with our
 * default query, the run button runs it against the simulator, and a typed query runs too.
 * The page is served from node_modules (stack.md gotcha 14), so it must never leave 127.0.0.1.
 */

describe('GraphiQL in headless Chromium', () => {
  const stack = useGatewayStack();

  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let allocationIds: string[] = [];

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

  screenshotOnFirstFailure('graphiql-failure-', () => page);

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

    await typeQuery(page, query, `allocation(id: \\"${id}\\")`);
    expect(await editorText(page, QUERY_EDITOR)).toBe(query);

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
