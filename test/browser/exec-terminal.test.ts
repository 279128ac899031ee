import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGatewayStack, type GatewayStack } from '../helpers/gateway.ts';
import { CHROMIUM, CHROMIUM_ARGS, MISSING_CHROMIUM, TEST_MS, WAIT_MS, isLocal, screenshotOnFirstFailure } from './graphiql-page.ts';

/**
 * The exec terminal page (/exec) as a person uses it, in a real Chromium: xterm.js on the exec
 * API. Typing into the terminal runs a real /bin/sh in the simulator's allocation (its output
 * arrives on the `execAllocation` subscription over graphql-ws, the keystrokes go with
 * `execInput`), resizing the window sends `execResize`, the exit and errors show in the status
 * line, and the token typed into the page goes in graphql-ws's connection_init and the
 * X-Nomad-Token header, never in a URL. The page loads everything from the gateway: nothing may
 * leave 127.0.0.1.
 */

/** What the page exposes for tests: its xterm.js Terminal, as far as these tests read it. */
interface TerminalHandle {
  cols: number;
  rows: number;
  buffer: { active: { length: number; getLine(y: number): { translateToString(trimRight: boolean): string } | undefined } };
}

interface GraphQLPost {
  request: Request;
  query: string;
  variables: { input?: Record<string, unknown> };
}

/** One browser page on the exec terminal, and everything it did that the tests look at. */
function useExecPage(stack: () => GatewayStack, onReady: () => Promise<void> | void = () => {}) {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;

  const seen = {
    requests: [] as string[],
    failedRequests: [] as string[],
    /** Responses with a 4xx or 5xx status. */
    errorResponses: [] as string[],
    pageErrors: [] as string[],
    consoleErrors: [] as string[],
    /** HTTP POSTs to /graphql (the mutations). */
    posts: [] as GraphQLPost[],
    /** Every graphql-ws message the page sent, parsed. */
    wsSent: [] as Record<string, unknown>[],
    /** execInput requests sent and not yet answered, and the most there ever were at once. */
    inputsInFlight: 0,
    maxInputsInFlight: 0,
  };
  const isInput = (request: Request): boolean => request.method() === 'POST' && (request.postData() ?? '').includes('execInput(');

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return; // each test then fails with MISSING_CHROMIUM
    await onReady();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    context.on('request', (request) => {
      seen.requests.push(request.url());
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql') {
        const body = request.postDataJSON() as { query: string; variables: GraphQLPost['variables'] };
        seen.posts.push({ request, query: body.query, variables: body.variables });
      }
      if (isInput(request)) seen.maxInputsInFlight = Math.max(seen.maxInputsInFlight, ++seen.inputsInFlight);
    });
    context.on('response', (response) => {
      if (isInput(response.request())) seen.inputsInFlight--;
    });
    context.on('requestfailed', (request) => seen.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? '?'}`));
    context.on('response', (response) => {
      if (response.status() >= 400) seen.errorResponses.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
    page = await context.newPage();
    page.on('pageerror', (error) => seen.pageErrors.push(`${error.name}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') seen.consoleErrors.push(`${message.text()} [${message.location().url}]`);
    });
    page.on('websocket', (socket) => {
      seen.requests.push(socket.url());
      socket.on('framesent', ({ payload }) => seen.wsSent.push(JSON.parse(String(payload)) as Record<string, unknown>));
    });
  }, 4 * WAIT_MS);

  screenshotOnFirstFailure('exec-terminal-failure-', () => page);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  return {
    seen,
    /** Every test fails (none is skipped) when Chromium is missing: CI must install it. */
    page(): Page {
      if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
      if (page === undefined) throw new Error('the browser page was not opened (see the beforeAll error)');
      return page;
    },
    /** What every test also proves: nothing broke and nothing left 127.0.0.1 so far. */
    expectClean(): void {
      expect(seen.pageErrors, 'pageerror events').toEqual([]);
      expect(seen.consoleErrors, 'console errors').toEqual([]);
      expect(seen.failedRequests, 'failed requests').toEqual([]);
      expect(seen.errorResponses, 'error responses').toEqual([]);
      expect(seen.requests.filter((url) => !isLocal(url)), 'requests outside 127.0.0.1').toEqual([]);
    },
    /** The mutations of one kind the page sent so far. */
    mutations(field: 'execInput' | 'execResize'): GraphQLPost[] {
      return seen.posts.filter((post) => post.query.includes(`${field}(`));
    },
    /** The graphql-ws `subscribe` messages the page sent so far. */
    subscribes(): Record<string, unknown>[] {
      return seen.wsSent.filter((message) => message['type'] === 'subscribe');
    },
  };
}

function terminal(page: Page): Promise<{ cols: number; rows: number; lines: string[] }> {
  return page.evaluate(() => {
    const term = (window as unknown as { __term: TerminalHandle }).__term;
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
    return { cols: term.cols, rows: term.rows, lines };
  });
}

/** Waits until one line of the terminal is exactly `line`. */
async function waitForLine(page: Page, line: string): Promise<string[]> {
  await page.waitForFunction(
    (line) => {
      const buffer = (window as unknown as { __term: TerminalHandle }).__term.buffer.active;
      for (let y = 0; y < buffer.length; y++) if (buffer.getLine(y)?.translateToString(true) === line) return true;
      return false;
    },
    line,
    { timeout: WAIT_MS },
  );
  return (await terminal(page)).lines;
}

/** Waits until the status line matches, then returns its text. */
async function waitForStatus(page: Page, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    ({ source, flags }) => new RegExp(source, flags).test(document.getElementById('status')?.textContent ?? ''),
    { source: pattern.source, flags: pattern.flags },
    { timeout: WAIT_MS },
  );
  return (await page.locator('#status').textContent()) ?? '';
}

/** Types into the terminal as a person does: focus it, then keys. */
async function typeLine(page: Page, text: string): Promise<void> {
  await page.locator('#terminal').click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** The `data` of a mutation's response, failing on errors. */
async function responseData(post: GraphQLPost): Promise<Record<string, unknown>> {
  const response = await post.request.response();
  const body = (await response?.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data ?? {};
}

describe('the exec terminal in headless Chromium', () => {
  const stack = useGatewayStack();
  let allocationId = '';
  const browser = useExecPage(stack, async () => {
    const { allocations } = stack().sim.cluster.createJob({ id: 'web', count: 1 });
    allocationId = allocations[0]?.ID ?? '';
    await stack().sim.cluster.idle();
  });

  it('should run what is typed into the terminal in the allocation and show its output', async () => {
    const page = browser.page();
    const response = await page.goto(`${stack().url}/exec?alloc=${allocationId}&task=server&command=/bin/sh&tty=false`, { waitUntil: 'commit' });
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('Exec · Nomad GraphQL gateway');
    expect(await waitForStatus(page, /^Connected/)).toBe('Connected: /bin/sh in task server (no tty).');
    expect(await page.locator('#target').textContent()).toBe(`Allocation ${allocationId} · task server · /bin/sh · no tty`);

    // The session started over graphql-ws on /graphql, with the terminal's size.
    const { cols, rows } = await terminal(page);
    expect(browser.subscribes()).toEqual([
      {
        type: 'subscribe',
        id: expect.any(String),
        payload: {
          query: expect.stringContaining('execAllocation(input: $input)'),
          variables: { input: { allocationId, task: 'server', command: ['/bin/sh'], tty: false, height: rows, width: cols } },
        },
      },
    ]);
    expect(browser.seen.requests.filter((url) => url.startsWith('ws'))).toEqual([`${stack().url.replace('http:', 'ws:')}/graphql`]);

    await typeLine(page, 'echo hi');
    const lines = await waitForLine(page, 'hi');
    // The page echoes the line itself (no tty on the other side), then the shell's output.
    expect(lines.slice(0, 2)).toEqual(['echo hi', 'hi']);

    // Without a tty the page edits the line and sends it whole: one execInput, written entirely.
    const inputs = browser.mutations('execInput');
    expect(inputs.map((post) => post.variables.input)).toEqual([{ sessionId: expect.any(String), text: 'echo hi\n' }]);
    expect(await responseData(inputs[0] as GraphQLPost)).toEqual({ execInput: { bytesWritten: 8 } });
    browser.expectClean();
  }, TEST_MS);

  it('should keep several commands and their output in order', async () => {
    const page = browser.page();
    await typeLine(page, 'printf "%s\\n" one two');
    await typeLine(page, 'echo three');
    await waitForLine(page, 'three');
    const { lines } = await terminal(page);
    expect(lines.slice(2, 8)).toEqual(['printf "%s\\n" one two', 'one', 'two', 'echo three', 'three', '']);
    expect(browser.mutations('execInput').map((post) => post.variables.input?.['text'])).toEqual(['echo hi\n', 'printf "%s\\n" one two\n', 'echo three\n']);
    browser.expectClean();
  }, TEST_MS);

  it('should send no execResize for a session without a terminal', async () => {
    const page = browser.page();
    await page.setViewportSize({ width: 700, height: 460 });
    await typeLine(page, 'echo resized');
    await waitForLine(page, 'resized');
    expect(browser.mutations('execResize')).toEqual([]);
    browser.expectClean();
  }, TEST_MS);

  it('should show the exit code in the status line when the command exits', async () => {
    const page = browser.page();
    await typeLine(page, 'exit 3');
    expect(await waitForStatus(page, /^Exited/)).toBe('Exited with code 3.');
    expect(await page.locator('#status').getAttribute('class')).toBe('error');
    // Typing after the end sends nothing.
    const sent = browser.mutations('execInput').length;
    await typeLine(page, 'echo gone');
    await page.waitForTimeout(200);
    expect(browser.mutations('execInput')).toHaveLength(sent);
    browser.expectClean();
  }, TEST_MS);

  it('should send execResize with the new size of the terminal when the window is resized', async () => {
    const page = browser.page();
    await page.goto(`${stack().url}/exec?alloc=${allocationId}&task=server&command=/bin/cat&tty=true`, { waitUntil: 'commit' });
    expect(await waitForStatus(page, /^Connected/)).toBe('Connected: /bin/cat in task server.');
    const before = await terminal(page);
    // The session started at the terminal's size: nothing to resize so far.
    expect(browser.mutations('execResize')).toEqual([]);

    await page.setViewportSize({ width: 640, height: 420 });
    await expect.poll(() => browser.mutations('execResize').length, { timeout: WAIT_MS }).toBeGreaterThan(0);
    const after = await terminal(page);
    expect(after.cols).toBeLessThan(before.cols);
    expect(after.rows).toBeLessThan(before.rows);
    // The last one sent is the terminal's size now, for the session started above.
    const resizes = browser.mutations('execResize');
    const sessionId = resizes.at(-1)?.variables.input?.['sessionId'];
    expect(resizes.at(-1)?.variables.input).toEqual({ sessionId, height: after.rows, width: after.cols });
    for (const resize of resizes) expect(await responseData(resize)).toEqual({ execResize: { sessionId } });
    // The session goes on.
    await page.locator('#terminal').click();
    await page.keyboard.type('still here');
    await waitForLine(page, 'still here');
    expect(await page.locator('#status').textContent()).toBe('Connected: /bin/cat in task server.');
    browser.expectClean();
  }, TEST_MS);

  it('should show a GraphQL error’s message and code in the status line', async () => {
    const page = browser.page();
    await page.goto(`${stack().url}/exec?alloc=not-an-id&task=server&tty=false`, { waitUntil: 'commit' });
    const status = await waitForStatus(page, /BAD_USER_INPUT/);
    expect(status).toBe('Invalid allocation id "not-an-id": give the allocation\'s global `id` or its full UUID (BAD_USER_INPUT)');
    expect(await page.locator('#status').getAttribute('class')).toBe('error');
    browser.expectClean();
  }, TEST_MS);

  it('should send the keys of a tty session as typed, one execInput at a time and in order, and a big paste in chunks', async () => {
    const page = browser.page();
    await page.goto(`${stack().url}/exec?alloc=${allocationId}&task=server&command=/bin/cat&tty=true`, { waitUntil: 'commit' });
    expect(await waitForStatus(page, /^Connected/)).toBe('Connected: /bin/cat in task server.');
    const before = browser.mutations('execInput').length;
    browser.seen.maxInputsInFlight = 0;

    // The simulator has no pty: nothing echoes the keys, cat writes them back as it reads them.
    const typed = 'The quick brown fox jumps over the lazy dog, héllo wörld ✓';
    await page.locator('#terminal').click();
    await page.keyboard.type(typed);
    expect(await waitForLine(page, typed)).toContain(typed);

    const inputs = browser.mutations('execInput').slice(before);
    expect(inputs.map((post) => post.variables.input?.['text']).join('')).toBe(typed);
    expect(new Set(inputs.map((post) => post.variables.input?.['sessionId'])).size).toBe(1);
    // One at a time: keys typed while one is on its way go together in the next.
    expect(browser.seen.maxInputsInFlight).toBe(1);
    expect(inputs.length).toBeLessThan([...typed].length);
    // Each answered once written: all of it, as UTF-8.
    const answers = await Promise.all(inputs.map(async (input) => (await responseData(input))['execInput'] as { bytesWritten: number }));
    expect(answers.reduce((sum, answer) => sum + answer.bytesWritten, 0)).toBe(Buffer.byteLength(typed));

    // A paste bigger than one execInput takes goes in several, in order; a chunk that ends inside
    // a UTF-8 character goes as base64 `data`.
    const pasted = `${'€'.repeat(40_000)}END`; // 120,003 bytes: 4 execInputs
    const sent = browser.mutations('execInput').length;
    await page.keyboard.insertText(pasted);
    await page.waitForFunction(
      () => {
        const buffer = (window as unknown as { __term: TerminalHandle }).__term.buffer.active;
        for (let y = buffer.length - 1; y >= Math.max(0, buffer.length - 5); y--) if (buffer.getLine(y)?.translateToString(true).endsWith('€END')) return true;
        return false;
      },
      undefined,
      { timeout: WAIT_MS },
    );
    const chunks = browser.mutations('execInput').slice(sent);
    const bytes = chunks.map((post) => {
      const { text, data } = post.variables.input as { text?: string; data?: string };
      return data === undefined ? Buffer.from(text ?? '', 'utf8') : Buffer.from(data, 'base64');
    });
    expect(Buffer.concat(bytes).toString('utf8')).toBe(pasted);
    expect(chunks.length).toBe(Math.ceil(Buffer.byteLength(pasted) / (32 * 1024)));
    expect(chunks.filter((post) => post.variables.input?.['data'] !== undefined).length).toBeGreaterThan(0);
    for (const [i, chunk] of chunks.entries()) expect(await responseData(chunk)).toEqual({ execInput: { bytesWritten: bytes[i]?.length } });
    browser.expectClean();
  }, TEST_MS);
});

describe('the exec terminal and the Nomad token in headless Chromium', () => {
  const stack = useGatewayStack({ simulator: { acl: true } });
  let allocationId = '';
  let token = '';
  const browser = useExecPage(stack, async () => {
    const { allocations } = stack().sim.cluster.createJob({ id: 'web', count: 1 });
    allocationId = allocations[0]?.ID ?? '';
    await stack().sim.cluster.idle();
    token = stack().sim.acl.createToken({ namespaces: { default: { capabilities: ['read-job', 'alloc-exec'] } } }).SecretID;
  });

  it('should show the refusal without a token, then run with the token typed in, sent only in connection_init and X-Nomad-Token', async () => {
    const page = browser.page();
    const url = `${stack().url}/exec?alloc=${allocationId}&task=server&tty=false`;
    await page.goto(url, { waitUntil: 'commit' });
    const refused = await waitForStatus(page, /\([A-Z_]+\)$/);
    expect(refused).toMatch(/^Not allowed to .*\(FORBIDDEN\)$/);
    expect(browser.seen.wsSent.find((message) => message['type'] === 'connection_init')).toEqual({ type: 'connection_init', payload: {} });

    await page.getByLabel('Nomad token').fill(token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await waitForStatus(page, /^Connected/);
    await typeLine(page, 'echo with token');
    await waitForLine(page, 'with token');

    // The token went in the second connection's connection_init, and in the mutation's header.
    const inits = browser.seen.wsSent.filter((message) => message['type'] === 'connection_init');
    expect(inits).toEqual([
      { type: 'connection_init', payload: {} },
      { type: 'connection_init', payload: { 'X-Nomad-Token': token } },
    ]);
    const [input] = browser.mutations('execInput');
    expect((await input?.request.allHeaders())?.['x-nomad-token']).toBe(token);
    await responseData(input as GraphQLPost);

    // Never in a URL, kept in this tab's sessionStorage only.
    expect(page.url()).toBe(url);
    expect(browser.seen.requests.filter((request) => request.includes(token))).toEqual([]);
    const storage = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
    expect(Object.values(storage.session)).toEqual([token]);
    expect(storage.local).toEqual({});

    // A reload keeps it, and connects with it at once.
    await page.reload({ waitUntil: 'commit' });
    await waitForStatus(page, /^Connected/);
    expect(await page.getByLabel('Nomad token').inputValue()).toBe(token);
    browser.expectClean();
  }, TEST_MS);
});
