import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/async-queue.ts';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asRecord } from '../helpers/http.ts';
import { CHROMIUM, CHROMIUM_ARGS, MISSING_CHROMIUM, RESPONSE_PANE, TEST_MS, WAIT_MS, isLocal, typeQuery, waitForText, screenshotOnFirstFailure } from './graphiql-page.ts';

/**
 * A subscription in GraphiQL as a person runs one: typed into the editor of /graphql in a real
 * Chromium, run over yoga's default transport for GraphiQL (SSE), the initial event shown, then
 * an allocation restarted from elsewhere (a mutation sent with fetch to the same gateway) and
 * the result pane showing the event that carries the change.
 */

const SUBSCRIPTION = 'subscription { allocationChanges(namespace: "default") { initial index updated { allocId clientStatus taskStates { name restarts } } } }';

describe('a subscription in GraphiQL in headless Chromium', () => {
  const stack = useGatewayStack();

  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;

  const requests: string[] = [];
  /** The requests to /graphql that asked for an event stream (SSE). */
  const eventStreams: { method: string; query: string }[] = [];
  const failedRequests: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  function openPage(): Page {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
    if (page === undefined) throw new Error('the browser page was not opened (see the beforeAll error)');
    return page;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return; // the test then fails with MISSING_CHROMIUM
    stack().sim.cluster.createJob({ id: 'web', count: 2 });
    await stack().sim.cluster.idle();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    context = await browser.newContext({ viewport: { width: 1280, height: 960 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    context.on('request', (request) => {
      requests.push(request.url());
      const target = new URL(request.url());
      if (target.pathname === '/graphql' && (request.headers()['accept'] ?? '').includes('text/event-stream')) {
        eventStreams.push({ method: request.method(), query: target.searchParams.get('query') ?? '' });
      }
    });
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

  it('should show the initial event of a typed subscription, then the event of an allocation restarted by a mutation', async () => {
    const page = openPage();
    const { sim, url, graphql } = stack();
    await page.goto(`${url}/graphql`, { waitUntil: 'commit' });
    await typeQuery(page, SUBSCRIPTION, 'allocationChanges(namespace: \\"default\\")');
    await page.getByRole('button', { name: /^Execute query/ }).click();

    const initial = await waitForText(page, RESPONSE_PANE, ['"allocationChanges"', '"initial": true']);
    expect(initial).toContain('"updated": []');
    expect(initial).not.toContain('"errors"');
    // GraphiQL in yoga subscribes over SSE: a GET (a fetch with the operation in the query string
    // and `Accept: text/event-stream`), and no WebSocket.
    expect(eventStreams).toEqual([{ method: 'GET', query: expect.stringMatching(/^subscription\s*\{\s*allocationChanges/) }]);
    expect(requests.filter((request) => request.startsWith('ws'))).toEqual([]);
    // The gateway's watch is parked on a blocking query to Nomad while GraphiQL waits.
    await eventually(async () => sim.blockingInFlight() === 1, 'the watch’s blocking query');

    const [target] = [...sim.store.allocs.values()].filter((alloc) => alloc.ClientStatus === 'running').map((alloc) => alloc.ID);
    if (target === undefined) throw new Error('no running allocation');
    const restarted = await graphql(`mutation($id: ID!) { restartAllocation(input: { id: $id }) { allocation { allocId } } }`, { id: target });
    expect(restarted.errors).toBeUndefined();
    expect(asRecord(asRecord(restarted.data?.['restartAllocation'])['allocation'])['allocId']).toBe(target);
    await sim.cluster.idle();
    const stored = sim.store.allocs.get(target);
    if (stored === undefined) throw new Error('the restarted allocation is gone');

    // The pane shows the latest event: the restarted allocation at the index of its last change,
    // with the status and restart count the simulator now holds.
    const changed = await waitForText(page, RESPONSE_PANE, ['"initial": false', target, `"index": "${String(stored.ModifyIndex)}"`]);
    expect(changed).toContain(`"clientStatus": "${stored.ClientStatus.toUpperCase()}"`);
    expect(changed).toMatch(new RegExp(`"name": "server",\\s*"restarts": ${String(stored.TaskStates?.['server']?.Restarts ?? -1)}`));
    expect(stored.TaskStates?.['server']?.Restarts).toBe(1);
    expect(changed).not.toContain('"errors"');

    expect(pageErrors, 'pageerror events').toEqual([]);
    expect(consoleErrors, 'console errors').toEqual([]);
    expect(failedRequests, 'failed requests').toEqual([]);
    expect(requests.filter((request) => !isLocal(request)), 'requests outside 127.0.0.1').toEqual([]);

    // Stopping the subscription in GraphiQL ends the gateway's watch and its upstream request.
    await page.getByRole('button', { name: /^Stop/ }).click();
    await eventually(async () => sim.blockingInFlight() === 0, 'the upstream blocking query to end', { timeoutMs: WAIT_MS });
  }, TEST_MS);
});
