/**
 * Scale: a cluster of 100 000 allocations (about 2 000 with `--quick`). How long paging through all
 * of them through the gateway takes against the same walk straight at Nomad, and how much memory
 * the gateway needs for it against its idle size; how long a live subscription over all of them
 * takes to its first event against the reads its watcher makes, and what serving it costs in memory.
 *
 * The walks on both sides are made by one client in this process, one request at a time, reading
 * and parsing every body (a client has to, to know where the next page starts), so a ratio
 * compares the targets and not the client. Peak memory is the gateway's resident set size read
 * from /proc every 50 ms, so a peak shorter than that can be missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import { Client } from 'undici';
import WebSocket from 'ws';
import { MAX_PAGE_SIZE } from '../../src/schema/allocation-page.ts';
import { DEFAULT_WATCH_PAGE_SIZE } from '../../src/watch/allocation-sources.ts';
import { list, record } from '../json.ts';
import { startGatewayProcess, startSimulatorProcess, type BenchProcess } from '../processes.ts';
import { figure, type Figure } from '../report.ts';

/** One page of the gateway walk: the largest page the gateway serves, with a dashboard's list fields (no task states upstream). */
const WALK_QUERY = /* GraphQL */ `query Walk($first: Int!, $after: String) {
  allocations(namespace: "*", first: $first, after: $after) {
    edges { node { id allocId name namespace jobId taskGroup clientStatus desiredStatus nodeName modifyTime } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The live list a dashboard keeps: the same fields as the walk, for every allocation. */
const SUBSCRIPTION = /* GraphQL */ `subscription Live {
  allocationChanges(namespace: "*") {
    initial index removed
    added { id allocId name namespace jobId taskGroup clientStatus desiredStatus nodeName modifyTime }
    updated { id allocId name namespace jobId taskGroup clientStatus desiredStatus nodeName modifyTime }
  }
}`;

/** The direct walk that does the gateway walk's upstream work: the same page size, no task states. */
const PAGING_BASELINE_QUERY = `namespace=*&per_page=${MAX_PAGE_SIZE}&task_states=false`;
/**
 * What the gateway's list watcher reads for `allocationChanges(namespace: "*")` (src/watch/
 * allocation-sources.ts): every page of its page size, following the next token, without task
 * states (the subscription selects none).
 */
const WATCHER_BASELINE_QUERY = `namespace=*&per_page=${DEFAULT_WATCH_PAGE_SIZE}&task_states=false`;

const MIB = 2 ** 20;
const RSS_SAMPLE_MS = 50;

/** The allocation ids of a `GET /v1/allocations` body. */
function decodeStubIds(text: string): string[] {
  return list(JSON.parse(text), 'allocation list').map((item) => {
    const id = record(item, 'allocation stub')['ID'];
    if (typeof id !== 'string') throw new Error('allocation stub without an ID');
    return id;
  });
}

/** `data` of a GraphQL result, or an error carrying its errors. */
function dataOf(result: unknown, what: string): Record<string, unknown> {
  const body = record(result, what);
  if (body['errors'] !== undefined) throw new Error(`${what}: ${JSON.stringify(body['errors'])}`);
  return record(body['data'], `${what} data`);
}

interface WalkPage {
  ids: string[];
  hasNextPage: boolean;
  endCursor: string | null;
}

function decodeWalkPage(text: string): WalkPage {
  const connection = record(dataOf(JSON.parse(text), 'allocations page')['allocations'], 'allocations');
  const ids = list(connection['edges'], 'edges').map((edge) => {
    const allocId = record(record(edge, 'edge')['node'], 'node')['allocId'];
    if (typeof allocId !== 'string') throw new Error('an edge without allocId');
    return allocId;
  });
  const pageInfo = record(connection['pageInfo'], 'pageInfo');
  const { hasNextPage, endCursor } = pageInfo;
  if (typeof hasNextPage !== 'boolean' || (endCursor !== null && typeof endCursor !== 'string')) throw new Error('malformed pageInfo');
  return { ids, hasNextPage, endCursor };
}

interface InitialEvent {
  initial: boolean;
  added: number;
}

function decodeChangesEvent(result: unknown): InitialEvent {
  const event = record(dataOf(result, 'allocationChanges event')['allocationChanges'], 'allocationChanges');
  const initial = event['initial'];
  if (typeof initial !== 'boolean') throw new Error('allocationChanges event without `initial`');
  return { initial, added: list(event['added'], 'added').length };
}

/** A walk's outcome: its wall time, every id it saw, and the body bytes it read. */
interface Walk {
  ms: number;
  ids: string[];
  bytes: number;
  pages: number;
}

/** Every page of `/v1/allocations?<query>` straight from the simulator, following X-Nomad-NextToken. */
async function directWalk(client: Client, query: string): Promise<Walk> {
  const ids: string[] = [];
  let bytes = 0;
  let pages = 0;
  let token = '';
  const began = performance.now();
  do {
    const path = `/v1/allocations?${query}${token === '' ? '' : `&next_token=${encodeURIComponent(token)}`}`;
    const response = await client.request({ method: 'GET', path });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`GET ${path}: ${response.statusCode} ${text.slice(0, 200)}`);
    bytes += Buffer.byteLength(text);
    pages += 1;
    ids.push(...decodeStubIds(text));
    const next = response.headers['x-nomad-nexttoken'];
    token = typeof next === 'string' ? next : '';
  } while (token !== '');
  return { ms: performance.now() - began, ids, bytes, pages };
}

/** Every page of `allocations(namespace: "*", first: 500)` through the gateway, following `endCursor`. */
async function gatewayWalk(client: Client): Promise<Walk> {
  const ids: string[] = [];
  let bytes = 0;
  let pages = 0;
  let after: string | null = null;
  const began = performance.now();
  for (;;) {
    const response = await client.request({
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: WALK_QUERY, variables: { first: MAX_PAGE_SIZE, after } }),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`gateway page: ${response.statusCode} ${text.slice(0, 200)}`);
    bytes += Buffer.byteLength(text);
    pages += 1;
    const page = decodeWalkPage(text);
    ids.push(...page.ids);
    if (!page.hasNextPage || page.endCursor === null) break;
    after = page.endCursor;
  }
  return { ms: performance.now() - began, ids, bytes, pages };
}

/** Samples a process's RSS every 50 ms until stopped; the samples are in bytes. */
function sampleRss(target: BenchProcess): { samples: number[]; stop: () => number[] } {
  const samples: number[] = [];
  const take = (): void => {
    const rss = target.rssBytes();
    if (rss !== undefined) samples.push(rss);
  };
  take();
  const timer = setInterval(take, RSS_SAMPLE_MS);
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The process's RSS at rest: the median of ~1 s of samples, so one GC-time spike does not count. */
async function restingRss(target: BenchProcess, ms: number): Promise<number> {
  const sampler = sampleRss(target);
  await sleep(ms);
  return median(sampler.stop());
}

/** Checks a walk saw every allocation exactly once. */
function checkComplete(name: string, walk: Walk, allocations: number): void {
  const distinct = new Set(walk.ids).size;
  if (walk.ids.length !== allocations || distinct !== allocations) {
    throw new Error(`${name} saw ${walk.ids.length} allocations (${distinct} distinct), not ${allocations}`);
  }
}

/** A WebSocket without ws's 100 MiB limit on one message: the initial event of a large list is one message. */
class LargeMessageWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { maxPayload: 2 ** 30 });
  }
}

interface SubscriptionMeasure {
  /** From `subscribe` (on an open connection) to the initial event parsed. */
  firstEventMs: number;
  added: number;
  /** RSS samples from `subscribe` to the initial event. */
  untilFirst: number[];
  /** RSS samples while the subscription is open after its initial event (none after the connection closed). */
  serving: number[];
  /** Set when the gateway closed the connection before the end of the hold: its code and reason, and when. */
  closed?: { code: number; reason: string; msAfterInitial: number };
}

/** The code and reason of a WebSocket close event (ws's CloseEvent has them as getters). */
function closeOf(event: unknown): { code: number; reason: string } {
  if (typeof event !== 'object' || event === null) return { code: 0, reason: String(event) };
  const code = 'code' in event && typeof event.code === 'number' ? event.code : 0;
  const reason = 'reason' in event && typeof event.reason === 'string' ? event.reason : '';
  return { code, reason };
}

/** Subscribes to every allocation, waits for the initial event, keeps the subscription `holdMs`, then ends it. */
async function measureSubscription(gateway: BenchProcess & { url: string }, holdMs: number): Promise<SubscriptionMeasure> {
  let connected!: () => void;
  let failed!: (error: unknown) => void;
  const open = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  let initialAt: number | undefined;
  let serving: ReturnType<typeof sampleRss> | undefined;
  let servingUntilClose: number | undefined;
  let closed: SubscriptionMeasure['closed'];
  const client = createClient({
    url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: LargeMessageWebSocket,
    lazy: false,
    retryAttempts: 0,
    // A close is recorded below and reported with the figures, not printed.
    onNonLazyError: () => undefined,
    on: {
      connected: () => connected(),
      error: (error) => failed(error),
      closed: (event) => {
        failed(new Error(`connection closed: ${JSON.stringify(closeOf(event))}`));
        if (initialAt === undefined || closed !== undefined) return;
        // Samples taken after the close are not "while serving".
        servingUntilClose = serving?.samples.length ?? 0;
        closed = { ...closeOf(event), msAfterInitial: performance.now() - initialAt };
      },
    },
  });
  try {
    await open;
    let unsubscribe = (): void => undefined;
    const firstEvent = new Promise<InitialEvent>((resolve, reject) => {
      let seen = false;
      unsubscribe = client.subscribe(
        { query: SUBSCRIPTION },
        {
          next: (result) => {
            if (seen) return;
            seen = true;
            initialAt = performance.now();
            try {
              resolve(decodeChangesEvent(result));
            } catch (error) {
              reject(error);
            }
          },
          error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(closeOf(error)))),
          complete: () => reject(new Error('the subscription ended before its first event')),
        },
      );
    });
    const untilFirst = sampleRss(gateway);
    const began = performance.now();
    const first = await firstEvent.finally(() => untilFirst.stop());
    const firstEventMs = (initialAt ?? performance.now()) - began;
    if (!first.initial) throw new Error('the first event is not the initial one');
    serving = sampleRss(gateway);
    await sleep(holdMs);
    unsubscribe();
    const servingSamples = serving.stop().slice(0, servingUntilClose);
    return { firstEventMs, added: first.added, untilFirst: untilFirst.samples, serving: servingSamples, closed };
  } finally {
    await client.dispose();
  }
}

export async function runScaleScenarios(options: { quick: boolean }, started: BenchProcess[]): Promise<Figure[]> {
  const { quick } = options;
  const allocations = quick ? 2_000 : 100_000;
  // The simulator announces itself once every allocation runs: both sides read a still cluster.
  const simStarted = performance.now();
  const sim = await startSimulatorProcess({ scenario: 'scale', allocations, churnMs: 0 });
  started.push(sim);
  const simReadyMs = performance.now() - simStarted;
  const gateway = await startGatewayProcess({ nomadAddr: sim.url });
  started.push(gateway);
  const simClient = new Client(sim.url, { headersTimeout: 120_000, bodyTimeout: 120_000 });
  const gatewayClient = new Client(gateway.url, { headersTimeout: 120_000, bodyTimeout: 120_000 });
  const count = allocations.toLocaleString('en-US').replaceAll(',', ' ');
  const settleMs = quick ? 300 : 1_000;
  /** How long the subscription is kept open after its initial event, its memory sampled. */
  const holdSeconds = quick ? 0.5 : 3;
  try {
    // Warm both paths with one page each (the gateway compiles the query on its first request).
    const response = await gatewayClient.request({
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: WALK_QUERY, variables: { first: MAX_PAGE_SIZE, after: null } }),
    });
    decodeWalkPage(await response.body.text());
    const warm = await simClient.request({ method: 'GET', path: `/v1/allocations?${PAGING_BASELINE_QUERY}` });
    await warm.body.text();

    // Paging: the direct walk, then the gateway walk with its memory sampled. The idle size is
    // read after the direct walk, not right after start-up: by then the gateway has been idle
    // long enough (in a full run) for V8 to have given back its start-up garbage, which it
    // otherwise does during the walk, making the walk's peak look smaller than "idle".
    const direct = await directWalk(simClient, PAGING_BASELINE_QUERY);
    checkComplete('the direct walk', direct, allocations);
    const idleRss = await restingRss(gateway, settleMs);
    const walkSampler = sampleRss(gateway);
    const throughGateway = await gatewayWalk(gatewayClient);
    const walkPeak = Math.max(...walkSampler.stop());
    checkComplete('the gateway walk', throughGateway, allocations);

    // Subscription: the watcher's reads straight from the simulator, then the subscription.
    const watcherReads = await directWalk(simClient, WATCHER_BASELINE_QUERY);
    checkComplete('the watcher-equivalent walk', watcherReads, allocations);
    // The gateway after the walk: its heap may have grown, so this, not the fresh idle size, is
    // what the subscription adds to.
    const beforeSubscribing = await restingRss(gateway, settleMs);
    const subscription = await measureSubscription(gateway, holdSeconds * 1000);
    if (subscription.added !== allocations) throw new Error(`the initial event added ${subscription.added} allocations, not ${allocations}`);
    const subscriptionPeak = Math.max(...subscription.untilFirst, ...subscription.serving);
    const servingRss = median(subscription.serving);
    // The gateway may end the connection while serving (e.g. 1013 when one event outgrows its
    // unsent-bytes bound): that is a finding, reported with the figures rather than thrown.
    const { closed } = subscription;
    const closedNote =
      closed === undefined
        ? ''
        : `; NOTE: the gateway closed the connection ${Math.round(closed.msAfterInitial)} ms after the initial event (${closed.code} ${closed.reason}), so "serving" covers only the time before`;

    const mib = (bytes: number): number => bytes / MIB;
    const mb = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
    return [
      figure({
        scenario: 'scale paging',
        measure: `time to page through ${count} allocations, first: ${MAX_PAGE_SIZE}`,
        unit: 's',
        value: throughGateway.ms / 1000,
        baseline: { name: `direct REST walk (per_page=${MAX_PAGE_SIZE}, task_states=false)`, value: direct.ms / 1000 },
        note: `${throughGateway.pages} gateway pages (${mb(throughGateway.bytes)}), ${direct.pages} Nomad pages (${mb(direct.bytes)}); one request at a time, every body parsed; the gateway asks Nomad for ${MAX_PAGE_SIZE + 1} per page, to know whether more follow; the simulator was up with its allocations running in ${(simReadyMs / 1000).toFixed(1)} s`,
      }),
      figure({
        scenario: 'scale paging',
        measure: `gateway peak RSS while paging through ${count} allocations`,
        unit: 'MiB',
        value: mib(walkPeak),
        baseline: { name: 'gateway idle RSS', value: mib(idleRss) },
        note: `RSS sampled every ${RSS_SAMPLE_MS} ms during the walk; idle: median over ${settleMs} ms before it, after the direct walk`,
      }),
      figure({
        scenario: 'scale subscription',
        measure: `time to the initial event of allocationChanges(namespace: "*") over ${count} allocations`,
        unit: 's',
        value: subscription.firstEventMs / 1000,
        baseline: { name: `direct walk of the watcher's reads (per_page=${DEFAULT_WATCH_PAGE_SIZE}, task_states=false)`, value: watcherReads.ms / 1000 },
        note: `from subscribe on an open graphql-ws connection to the event parsed; the watcher's reads: ${watcherReads.pages} pages (${mb(watcherReads.bytes)}) from Nomad${closedNote}`,
      }),
      figure({
        scenario: 'scale subscription',
        measure: `gateway peak RSS from subscribing until ${holdSeconds} s after the initial event`,
        unit: 'MiB',
        value: mib(subscriptionPeak),
        baseline: { name: 'gateway RSS before subscribing', value: mib(beforeSubscribing) },
        note: `RSS sampled every ${RSS_SAMPLE_MS} ms; baseline measured after the paging walk (idle before it: ${mb(idleRss)})${closedNote}`,
      }),
      figure({
        scenario: 'scale subscription',
        measure: `gateway RSS while serving the subscription over ${count} allocations`,
        unit: 'MiB',
        value: mib(servingRss),
        baseline: { name: 'gateway RSS before subscribing', value: mib(beforeSubscribing) },
        note: `median of the ${subscription.serving.length} samples over ${holdSeconds} s after the initial event, the subscription open and the cluster still${closedNote}`,
      }),
    ];
  } finally {
    await Promise.all([simClient.close(), gatewayClient.close()]);
  }
}
