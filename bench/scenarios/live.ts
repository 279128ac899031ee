/**
 * Live fan-out: many graphql-ws subscribers of one watch key over two gateway replicas sharing one
 * Redis. What Nomad sees (blocking queries in flight, reads per change) must not grow with the
 * subscribers; what each subscriber sees (latency from a change in the simulator to its event) is
 * compared with a direct blocking query; what an idle subscription costs the replicas is compared
 * with a process that only holds the same sockets (`bench/ws-floor-server.ts`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import { request } from 'undici';
import WebSocket from 'ws';
import { readMetrics } from '../gateway-metrics.ts';
import { percentile } from '../load.ts';
import { figure, type Figure } from '../report.ts';

export interface LiveScenarioOptions {
  simUrl: string;
  /** Gateway replicas, e.g. two, sharing one Redis. */
  replicas: { url: string; rssBytes(): number | undefined }[];
  floor: { wsUrl: string; rssBytes(): number | undefined };
  quick: boolean;
}

/** Every subscriber asks the same question: one watch key. */
const LIVE_SUBSCRIPTION = /* GraphQL */ `subscription Live {
  allocationChanges(namespace: "default") { initial index added { allocId } updated { allocId desiredStatus clientStatus } }
}`;

interface ChangeEvent {
  initial: boolean;
  updated: string[];
}

function decodeEvent(value: unknown): ChangeEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const data = (value as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  const changes = (data as { allocationChanges?: unknown }).allocationChanges;
  if (typeof changes !== 'object' || changes === null) return undefined;
  const { initial, updated } = changes as { initial?: unknown; updated?: unknown };
  const ids = Array.isArray(updated) ? updated.flatMap((u: unknown) => (typeof u === 'object' && u !== null && typeof (u as { allocId?: unknown }).allocId === 'string' ? [(u as { allocId: string }).allocId] : [])) : [];
  return { initial: initial === true, updated: ids };
}

/** One subscriber: its client, and a hook for the next event naming an allocation. */
interface Subscriber {
  client: Client;
  initialised: Promise<void>;
  /** Resolves with the time the first event updating `allocId` arrived. */
  waitFor(allocId: string): Promise<number>;
}

function subscribe(wsUrl: string, query: string): Subscriber {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const waiters = new Map<string, (at: number) => void>();
  let initialise: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const initialised = new Promise<void>((resolve, reject) => {
    initialise = resolve;
    fail = reject;
  });
  client.subscribe(
    { query },
    {
      next: (value) => {
        const at = performance.now();
        const event = decodeEvent(value);
        if (event === undefined) return fail(new Error(`not an allocationChanges event: ${JSON.stringify(value).slice(0, 300)}`));
        if (event.initial) initialise();
        for (const id of event.updated) {
          const waiter = waiters.get(id);
          if (waiter !== undefined) {
            waiters.delete(id);
            waiter(at);
          }
        }
      },
      error: (error) => fail(error),
      complete: () => undefined,
    },
  );
  return {
    client,
    initialised,
    waitFor: (allocId) => new Promise<number>((resolve) => waiters.set(allocId, resolve)),
  };
}

/** Opens `count` subscribers spread over `urls` in batches, and resolves once each has its initial event. */
async function openSubscribers(urls: readonly string[], count: number): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = [];
  const batch = 250;
  for (let start = 0; start < count; start += batch) {
    const opened: Subscriber[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) opened.push(subscribe(urls[i % urls.length] ?? '', LIVE_SUBSCRIPTION));
    await Promise.all(opened.map((s) => s.initialised));
    subscribers.push(...opened);
  }
  return subscribers;
}

async function closeSubscribers(subscribers: readonly Subscriber[]): Promise<void> {
  await Promise.all(subscribers.map((s) => s.client.dispose()));
}

function totalRss(parts: readonly { rssBytes(): number | undefined }[]): number {
  return parts.reduce((sum, part) => sum + (part.rssBytes() ?? 0), 0);
}

/** Upstream calls so far over every replica (blocking queries and reads), and the watch keys they lead. */
async function upstreamState(replicas: readonly { url: string }[]): Promise<{ calls: number; leading: number }> {
  let calls = 0;
  let leading = 0;
  for (const replica of replicas) {
    for (const sample of await readMetrics(replica.url)) {
      if (sample.name === 'nomad_gateway_upstream_requests_total') calls += sample.value;
      if (sample.name === 'nomad_gateway_watch_keys_leading') leading += sample.value;
    }
  }
  return { calls, leading };
}

interface Stub {
  ID: string;
  JobID: string;
  ClientStatus: string;
  DesiredStatus: string;
}

function decodeStubs(value: unknown): Stub[] {
  if (!Array.isArray(value)) throw new Error('the allocation list is not an array');
  return value.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return [];
    const { ID, JobID, ClientStatus, DesiredStatus } = item as Record<string, unknown>;
    return typeof ID === 'string' && typeof JobID === 'string' && typeof ClientStatus === 'string' && typeof DesiredStatus === 'string' ? [{ ID, JobID, ClientStatus, DesiredStatus }] : [];
  });
}

/** The default namespace's allocations and the index they are current at. */
async function listDefault(simUrl: string): Promise<{ stubs: Stub[]; index: string }> {
  const response = await request(`${simUrl}/v1/allocations?namespace=default&task_states=false`);
  const index = response.headers['x-nomad-index'];
  return { stubs: decodeStubs(await response.body.json()), index: String(Array.isArray(index) ? index[0] : index) };
}

/** Waits for every subscriber's event naming `allocId`, for at most 20 s; the deadline's timer is cancelled either way. */
async function allArrivals(arrivals: readonly Promise<number>[], allocId: string): Promise<number[]> {
  const deadline = new AbortController();
  const timeout = sleep(20_000, undefined, { signal: deadline.signal }).then(() => {
    throw new Error(`not every subscriber saw the change of ${allocId} within 20 s`);
  });
  timeout.catch(() => undefined); // the abort's rejection, once the race is decided
  return Promise.race([Promise.all(arrivals), timeout]).finally(() => deadline.abort());
}

/**
 * The floor of one change: the floor process writes one event to every subscription, timed from
 * just before it is asked to until each subscriber has it.
 */
async function timeOneFloorBroadcast(floorHttpUrl: string, subscribers: readonly Subscriber[], fakeAllocId: string): Promise<number[]> {
  const arrivals = subscribers.map((s) => s.waitFor(fakeAllocId));
  const askedAt = performance.now();
  const response = await request(`${floorHttpUrl}/broadcast?alloc=${fakeAllocId}`, { method: 'POST' });
  await response.body.dump();
  if (response.statusCode !== 204) throw new Error(`the floor's broadcast answered ${response.statusCode}`);
  return (await allArrivals(arrivals, fakeAllocId)).map((at) => at - askedAt);
}

/**
 * One change: stops a running allocation in the simulator and times, from just before, the
 * direct blocking query (already waiting at the current index) and each subscriber's event.
 */
async function timeOneChange(simUrl: string, subscribers: readonly Subscriber[], allocId: string, index: string): Promise<{ direct: number; delivered: number[] }> {
  const direct = request(`${simUrl}/v1/allocations?namespace=default&task_states=false&index=${index}&wait=30s`).then(async (response) => {
    await response.body.dump();
    return performance.now();
  });
  const arrivals = subscribers.map((s) => s.waitFor(allocId));
  await sleep(20); // the direct query is surely waiting upstream
  const changedAt = performance.now();
  const stop = await request(`${simUrl}/v1/allocation/${allocId}/stop`, { method: 'PUT' });
  await stop.body.dump();
  if (stop.statusCode !== 200) throw new Error(`stopping ${allocId} answered ${stop.statusCode}`);
  const delivered = await allArrivals(arrivals, allocId);
  return { direct: (await direct) - changedAt, delivered: delivered.map((at) => at - changedAt) };
}

/**
 * One size of the fan-out. `judgeMemory`: the memory figure carries the 20 KB target. Only the
 * largest size's does: at a small count, the RSS growth is mostly the heap's young generation
 * growing to its working size (up to `--max-semi-space-size`), not what each subscription holds.
 */
async function fanOutAt(options: LiveScenarioOptions, count: number, changes: number, judgeMemory: boolean): Promise<Figure[]> {
  const { replicas, simUrl } = options;
  const scenario = `live fan-out, ${count.toLocaleString('en')} subscribers over ${replicas.length} replicas`;
  const wsUrls = replicas.map((r) => `${r.url.replace('http', 'ws')}/graphql`);

  await sleep(1_000);
  const rssBefore = totalRss(replicas);
  const subscribers = await openSubscribers(wsUrls, count);
  await sleep(2_000);
  const rssIdle = totalRss(replicas);

  /** Stops one running allocation of job `web` and times its delivery to every subscriber. */
  const stopOne = async (): Promise<{ direct: number; delivered: number[] }> => {
    const { stubs, index } = await listDefault(simUrl);
    const target = stubs.find((s) => s.JobID === 'web' && s.ClientStatus === 'running' && s.DesiredStatus === 'run');
    if (target === undefined) throw new Error('no running allocation of job web left to stop');
    const timed = await timeOneChange(simUrl, subscribers, target.ID, index);
    // A stop is several steps in Nomad (desired status, the client's update, a replacement
    // placed and started): let all of them pass, so that each change is timed alone. The
    // simulator's last step comes 2 s after the stop (scheduler 0.5 s, client 1.5 s).
    await sleep(options.quick ? 500 : 2_500);
    return timed;
  };

  const direct: number[] = [];
  const delivered: number[] = [];
  let before: { calls: number; leading: number } | undefined;
  try {
    // One change first, not counted: the replicas' event path is compiled by V8 on its first runs,
    // as in any gateway that has been serving for a while.
    await stopOne();
    before = await upstreamState(replicas);
    for (let change = 0; change < changes; change++) {
      const timed = await stopOne();
      direct.push(timed.direct);
      delivered.push(...timed.delivered);
    }
  } finally {
    await closeSubscribers(subscribers);
  }
  const after = await upstreamState(replicas);
  if (before === undefined) throw new Error('unreachable: the changes ran');
  direct.sort((a, b) => a - b);
  delivered.sort((a, b) => a - b);

  // The floor: the same number of idle graphql-ws connections held by a process that does nothing else.
  await sleep(500);
  const floorBefore = options.floor.rssBytes() ?? 0;
  const floorSubscribers = await openSubscribers([options.floor.wsUrl], count);
  await sleep(2_000);
  const floorIdle = options.floor.rssBytes() ?? 0;
  const floorDelivered: number[] = [];
  try {
    const floorHttpUrl = new URL(options.floor.wsUrl.replace(/^ws/, 'http')).origin;
    for (let change = -1; change < changes; change++) {
      const times = await timeOneFloorBroadcast(floorHttpUrl, floorSubscribers, `floor-${count}-${change}`);
      if (change >= 0) floorDelivered.push(...times); // the first one warms up, as for the gateway
      await sleep(options.quick ? 100 : 500);
    }
  } finally {
    await closeSubscribers(floorSubscribers);
  }
  floorDelivered.sort((a, b) => a - b);

  return [
    figure({
      scenario,
      measure: 'upstream blocking queries in flight',
      unit: 'queries',
      value: before.leading,
      baseline: { name: 'one per subscriber', value: count },
      target: { of: 'value', op: '==', bound: 1 },
      note: 'watch keys led, summed over the replicas (each leads at most one blocking query per key)',
    }),
    figure({
      scenario,
      measure: 'upstream calls per change',
      unit: 'calls',
      value: (after.calls - before.calls) / changes,
      baseline: { name: 'one blocking query per subscriber', value: count },
      note: 'every call to Nomad (blocking queries and reads) over the replicas, per stopped allocation',
    }),
    figure({
      scenario,
      measure: 'delivery latency p50, change to client',
      unit: 'ms',
      value: percentile(delivered, 0.5),
      baseline: { name: 'direct blocking query', value: percentile(direct, 0.5) },
    }),
    figure({
      scenario,
      measure: 'delivery latency p99, change to client',
      unit: 'ms',
      value: percentile(delivered, 0.99),
      baseline: { name: 'direct blocking query', value: percentile(direct, 0.99) },
      target: { of: 'value', op: '<=', bound: 100 },
      note: `${delivered.length} deliveries; measured in the one process that also holds every client`,
    }),
    figure({
      scenario,
      measure: 'delivery latency p50, gateway over the floor',
      unit: 'ms',
      value: percentile(delivered, 0.5),
      baseline: { name: 'a process writing one prepared event to each socket', value: percentile(floorDelivered, 0.5) },
      note: 'the floor: the same clients, subscribed to bench/ws-floor-server.ts, timed from asking it to write',
    }),
    figure({
      scenario,
      measure: 'delivery latency p99, gateway over the floor',
      unit: 'ms',
      value: percentile(delivered, 0.99),
      baseline: { name: 'a process writing one prepared event to each socket', value: percentile(floorDelivered, 0.99) },
    }),
    figure({
      scenario,
      measure: 'gateway memory per idle subscription',
      unit: 'KB',
      value: (rssIdle - rssBefore) / count / 1024,
      baseline: { name: 'a process holding the same sockets', value: Math.max(1, floorIdle - floorBefore) / count / 1024 },
      ...(judgeMemory ? { target: { of: 'value', op: '<=', bound: 20 } } : {}),
      note: `RSS growth of the replicas (summed) from before connecting to all subscribed and idle${judgeMemory ? '' : '; at this size mostly the young generation growing to its working size, so the target is judged at the largest size'}`,
    }),
  ];
}

export async function runLiveScenarios(options: LiveScenarioOptions): Promise<Figure[]> {
  const sizes = options.quick ? [10, 40] : [1_000, 10_000];
  const figures: Figure[] = [];
  for (const size of sizes) figures.push(...(await fanOutAt(options, size, options.quick ? 2 : 5, size === sizes.at(-1))));
  // Reads per change must not grow with subscribers: the larger size against the smaller one.
  const calls = figures.filter((f) => f.measure === 'upstream calls per change');
  const [small, large] = calls;
  if (small !== undefined && large !== undefined) {
    figures.push(
      figure({
        scenario: 'live fan-out',
        measure: `upstream calls per change at ${sizes[1]?.toLocaleString('en')} subscribers`,
        unit: 'calls',
        value: large.value,
        baseline: { name: `at ${sizes[0]?.toLocaleString('en')}`, value: small.value },
        target: { of: 'ratio', op: '<=', bound: 1.25 },
        note: 'must not grow with subscribers (a change can be seen in one or two blocking-query answers)',
      }),
    );
  }
  return figures;
}
