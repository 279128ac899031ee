import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeEach } from 'vitest';

/**
 * What the GraphiQL browser tests share: how Chromium is launched here, and how a person's view
 * of GraphiQL's Monaco editors is read and typed into.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const MISSING_CHROMIUM = `${CHROMIUM} is missing: these browser tests need Debian's Chromium, so run \`apt-get install -y chromium\` (.ci/run does)`;
/** node-svc.md, "Known to work": without the background-networking flags this closed network refuses Chromium. */
export const CHROMIUM_ARGS = [
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
export const WAIT_MS = 20_000;
/** A test holds at most a few waits. */
export const TEST_MS = 3 * WAIT_MS;

export const QUERY_EDITOR = '.graphiql-query-editor .view-lines';
export const RESPONSE_PANE = '.graphiql-response .view-lines';

/**
 * The text a person sees in one of GraphiQL's Monaco editors. Monaco renders the visible lines as
 * absolutely placed `.view-line`s (not always in DOM order) and spaces as U+00A0.
 */
export function editorText(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((root) =>
    [...root.querySelectorAll<HTMLElement>('.view-line')]
      .map((line) => ({ top: Number.parseFloat(line.style.top) || 0, text: (line.textContent ?? '').replaceAll('\u00a0', ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text)
      .join('\n'),
  );
}

/** Waits until the pane shows every one of `needles`, then returns its text. */
export async function waitForText(page: Page, selector: string, needles: string[]): Promise<string> {
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

/**
 * Replaces the editor's text with `query` as a person would (select all, type), and waits until
 * GraphiQL has taken the edit in. `saved` is a piece of the query as it appears JSON-escaped in
 * GraphiQL's saved tab state (e.g. `allocation(id: \"…\")`).
 */
export async function typeQuery(page: Page, query: string, saved: string): Promise<void> {
  await page.locator(QUERY_EDITOR).click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(query);
  // Monaco may auto-close a bracket or quote after the cursor: drop whatever is left behind it.
  await page.keyboard.press('Shift+ControlOrMeta+End');
  await page.keyboard.press('Delete');
  const typed = await editorText(page, QUERY_EDITOR);
  if (typed !== query) throw new Error(`the editor shows ${JSON.stringify(typed)}, not the query typed`);
  // GraphiQL commits an edit to its tab state a moment later (debounced); run before that and
  // it sends the previous query or its operation name ("Cannot infer operation Allocations").
  // A person is never that fast: wait until the tab's title and the saved tab state (which
  // GraphiQL keeps in localStorage) both hold the new query.
  await page.getByText('<untitled>', { exact: true }).first().waitFor({ timeout: WAIT_MS });
  await page.waitForFunction((text) => Object.keys(localStorage).some((key) => (localStorage.getItem(key) ?? '').includes(text)), saved, {
    timeout: WAIT_MS,
  });
}

/** http(s)/ws(s) to 127.0.0.1, blob: made by a 127.0.0.1 page, or inline data:. Anything else left the machine. */
export function isLocal(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:') return true;
  const target = parsed.protocol === 'blob:' ? new URL(parsed.pathname) : parsed;
  return ['http:', 'https:', 'ws:', 'wss:'].includes(target.protocol) && target.hostname === '127.0.0.1';
}

/**
 * For the enclosing describe: when a test fails, a screenshot of the page (the first failure
 * only, later ones usually follow from it), saved under a temporary `<prefix>*` folder.
 */
export function screenshotOnFirstFailure(prefix: string, currentPage: () => Page | undefined): void {
  let taken = false;
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async ({ task }) => {
      const page = currentPage();
      if (taken || page === undefined || page.isClosed()) return;
      taken = true;
      const path = join(mkdtempSync(join(tmpdir(), prefix)), 'page.png');
      await page.screenshot({ path, timeout: WAIT_MS }).then(
        () => console.error(`"${task.name}" failed; screenshot of the page: ${path}`),
        (error: unknown) => console.error(`"${task.name}" failed; no screenshot: ${String(error)}`),
      );
    });
  });
}
