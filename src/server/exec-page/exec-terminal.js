// The exec terminal of /exec: xterm.js on the gateway's exec API, with no framework and no build
// step. The command's output arrives on the `execAllocation` subscription (graphql-ws); what is
// typed goes back with `execInput` and the terminal's size with `execResize` (HTTP POST), one
// mutation at a time and in order.
//
// The URL says what to run: /exec?alloc=<global id or UUID>&task=<name>[&command=/bin/sh][&tty=true].
// Repeat `command` for each argument: `&command=/bin/sh&command=-c&command=uptime`.
// The Nomad token is typed into the page and kept in sessionStorage, never in the URL.

import { createClient } from './graphql-ws/client.js';
import { FitAddon } from './xterm/addon-fit.mjs';
import { Terminal } from './xterm/xterm.mjs';

const EXEC = `subscription Exec($input: ExecAllocationInput!) {
  execAllocation(input: $input) {
    __typename
    ... on ExecStarted { sessionId }
    ... on ExecOutput { stream data }
    ... on ExecExited { exitCode }
  }
}`;
const INPUT = 'mutation ExecInput($input: ExecInputInput!) { execInput(input: $input) { bytesWritten } }';
const RESIZE = 'mutation ExecResize($input: ExecResizeInput!) { execResize(input: $input) { sessionId } }';
const TOKEN_KEY = 'nomad-gateway.exec.token';
/** Stdin bytes per `execInput`: well under what the gateway takes in one (64 KiB); a big paste goes in several. */
const MAX_INPUT_BYTES = 32 * 1024;

const graphqlPath = document.body.dataset.graphqlPath ?? '/graphql';
const params = new URLSearchParams(location.search);
const target = {
  allocationId: params.get('alloc') ?? '',
  task: params.get('task') ?? '',
  command: params.getAll('command').filter((part) => part !== ''),
  tty: !['false', '0', 'no', 'off'].includes((params.get('tty') ?? 'true').toLowerCase()),
};
if (target.command.length === 0) target.command = ['/bin/sh'];

const tokenField = /** @type {HTMLInputElement} */ (document.getElementById('token'));
const connectButton = /** @type {HTMLButtonElement} */ (document.getElementById('connect-button'));
const statusLine = /** @type {HTMLElement} */ (document.getElementById('status'));
const terminalBox = /** @type {HTMLElement} */ (document.getElementById('terminal'));

// Before the terminal is fitted: this text may take the header to two lines.
/** @type {HTMLElement} */ (document.getElementById('target')).textContent =
  `Allocation ${target.allocationId || '?'} · task ${target.task || '?'} · ${target.command.join(' ')} · ${target.tty ? 'tty' : 'no tty'}`;

/** @param {string} text @param {boolean} [isError] */
function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

// The page's CSP admits only the <style> elements that carry this response's nonce; xterm.js's
// DOM renderer makes its own at run time, so every <style> made here gets it.
const styleNonce = /** @type {HTMLScriptElement | null} */ (document.querySelector('script[nonce]'))?.nonce ?? '';
const createElement = document.createElement.bind(document);
document.createElement = /** @type {typeof document.createElement} */ (
  (/** @type {string} */ name, /** @type {ElementCreationOptions | undefined} */ options) => {
    const element = createElement(name, options);
    if (name.toLowerCase() === 'style') element.nonce = styleNonce;
    return element;
  }
);

// Without a tty no line discipline runs on the other side: the page echoes and edits the line
// itself (see `cooked`), and turns the command's bare \n into new lines.
const term = new Terminal({ convertEol: !target.tty, cursorBlink: true, scrollback: 5000 });
const fit = new FitAddon();
term.loadAddon(fit);
term.open(terminalBox);
fit.fit();
new ResizeObserver(() => fit.fit()).observe(terminalBox);
// For tests and for the console.
Object.assign(window, { __term: term });

/**
 * One exec session: its subscription, and what waits to be sent to it (`pending`: bytes for stdin).
 * @typedef {{ id: string | null, token: string, pending: number[], close: boolean,
 *   size: { height: number, width: number } | null, sending: boolean, over: boolean, line: string, stop(): void }} Session
 */
/** @type {Session | undefined} */
let current;

/** @param {{ message?: string, extensions?: { code?: unknown } }[]} errors */
function describeErrors(errors) {
  return errors.map((error) => (error.extensions?.code ? `${error.message} (${String(error.extensions.code)})` : String(error.message))).join('; ');
}

/** What graphql-ws hands a sink's `error`: GraphQL errors, a CloseEvent, an Error or an Event. @param {unknown} error */
function describeFailure(error) {
  if (Array.isArray(error)) return describeErrors(error);
  if (error instanceof Error) return error.message;
  if (error instanceof CloseEvent) return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`;
  if (error instanceof Event) return `cannot connect to ${graphqlPath} over WebSocket`;
  return String(error);
}

/** @param {string} data base64 @returns {Uint8Array} */
function decodeBase64(data) {
  return Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Stdin bytes as `execInput` takes them: `text` when they are UTF-8, else base64 `data`. @param {number[]} bytes */
function stdinInput(bytes) {
  try {
    return { text: utf8.decode(new Uint8Array(bytes)) };
  } catch {
    return { data: btoa(bytes.map((byte) => String.fromCharCode(byte)).join('')) };
  }
}

/** POSTs one mutation; its data, or an Error that says what went wrong. @param {string} token @param {string} query @param {object} variables */
async function mutate(token, query, variables) {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token !== '') headers['X-Nomad-Token'] = token;
  const response = await fetch(graphqlPath, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => null);
  if (body?.errors?.length) throw new Error(describeErrors(body.errors));
  if (!response.ok || !body?.data) throw new Error(`HTTP ${response.status}`);
  return body.data;
}

/**
 * Sends what waits, one mutation at a time: the latest size first, then every keystroke typed
 * meanwhile, in one `execInput`. Nothing goes before the session has started. @param {Session} session
 */
async function flush(session) {
  if (session.sending || session.id === null) return;
  session.sending = true;
  try {
    while (!session.over && (session.size !== null || session.pending.length > 0 || session.close)) {
      try {
        if (session.size !== null) {
          const size = session.size;
          session.size = null;
          await mutate(session.token, RESIZE, { input: { sessionId: session.id, ...size } });
        } else {
          const bytes = session.pending.splice(0, MAX_INPUT_BYTES);
          const close = session.close && session.pending.length === 0;
          if (close) session.close = false;
          // A chunk may end inside a UTF-8 character: it then goes as `data`, the bytes are the same.
          const input = { sessionId: session.id, ...stdinInput(bytes), ...(close ? { close: true } : {}) };
          await mutate(session.token, INPUT, { input });
        }
      } catch (error) {
        // Input after a lost write would arrive out of order: drop it too.
        session.pending = [];
        if (session === current && !session.over) setStatus(error instanceof Error ? error.message : String(error), true);
      }
    }
  } finally {
    session.sending = false;
  }
}

const encoder = new TextEncoder();

/** Queues bytes for stdin: typed text (as UTF-8), or a binary string (one byte per char). @param {Session} session @param {string} text @param {boolean} [binary] */
function send(session, text, binary = false) {
  const bytes = binary ? Array.from(text, (char) => char.charCodeAt(0) & 0xff) : encoder.encode(text);
  for (const byte of bytes) session.pending.push(byte);
  void flush(session);
}

/**
 * A line discipline for sessions without a tty: echo, backspace, Enter sends the line, Ctrl-D on
 * an empty line closes stdin. Keys that arrive as escape sequences (arrows...) are ignored.
 * @param {Session} session @param {string} data
 */
function cooked(session, data) {
  if (data.startsWith('\x1b')) return;
  for (const char of data) {
    if (char === '\r' || char === '\n') {
      term.write('\r\n');
      send(session, `${session.line}\n`);
      session.line = '';
    } else if (char === '\x7f' || char === '\b') {
      if (session.line === '') continue;
      session.line = [...session.line].slice(0, -1).join('');
      term.write('\b \b');
    } else if (char === '\x04') {
      if (session.line !== '') continue;
      session.close = true;
      void flush(session);
    } else if (char >= ' ') {
      session.line += char;
      term.write(char);
    }
  }
}

/** Starts `execAllocation` with the token typed in; the previous session, if any, is closed. */
function connect() {
  current?.stop();
  const token = tokenField.value.trim();
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  term.reset();
  term.focus();

  const url = new URL(graphqlPath, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  // No retries: a session does not survive its connection, so a new one is the user's call.
  const client = createClient({ url: url.href, connectionParams: token === '' ? {} : { 'X-Nomad-Token': token }, retryAttempts: 0 });
  /** @type {Session} */
  const session = { id: null, token, pending: [], close: false, size: null, sending: false, over: false, line: '', stop: () => {} };
  const input = { ...target, height: term.rows, width: term.cols };
  const unsubscribe = client.subscribe(
    { query: EXEC, variables: { input } },
    {
      next: (result) => {
        if (session.over) return;
        if (result.errors?.length) {
          // A refusal (before ExecStarted) or a failure: either way the session is over.
          setStatus(describeErrors(/** @type {any[]} */ (result.errors)), true);
          session.stop();
          return;
        }
        const event = /** @type {any} */ (result.data)?.execAllocation;
        if (event?.__typename === 'ExecStarted') {
          session.id = event.sessionId;
          setStatus(`Connected: ${target.command.join(' ')} in task ${target.task}${target.tty ? '' : ' (no tty)'}.`);
          void flush(session);
        } else if (event?.__typename === 'ExecOutput') {
          term.write(decodeBase64(event.data));
        } else if (event?.__typename === 'ExecExited') {
          session.over = true;
          setStatus(`Exited with code ${event.exitCode}.`, event.exitCode !== 0);
        }
      },
      error: (error) => {
        if (session.over) return;
        session.over = true;
        setStatus(describeFailure(error), true);
        client.dispose();
      },
      complete: () => {
        if (!session.over) setStatus('The session ended.');
        session.over = true;
        client.dispose();
      },
    },
  );
  session.stop = () => {
    session.over = true;
    unsubscribe();
    void client.dispose();
  };
  current = session;
  setStatus('Connecting…');
}

term.onData((data) => {
  if (current === undefined || current.over) return;
  if (target.tty) send(current, data);
  else cooked(current, data);
});
// Bytes that are not text: some mouse reports.
term.onBinary((data) => {
  if (current !== undefined && !current.over && target.tty) send(current, data, true);
});
// Only a terminal session has a size to change (the gateway refuses others).
term.onResize(({ cols, rows }) => {
  if (current === undefined || current.over || !target.tty) return;
  current.size = { height: rows, width: cols };
  void flush(current);
});

document.getElementById('connect')?.addEventListener('submit', (event) => {
  event.preventDefault();
  connect();
});

tokenField.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
if (target.allocationId === '' || target.task === '') {
  connectButton.disabled = true;
  setStatus('Open this page as /exec?alloc=<allocation id>&task=<task name>[&command=/bin/sh][&tty=false].', true);
} else {
  connect();
}
