import { createClient, type Client } from 'graphql-ws';
import type { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { decodeGlobalId, encodeGlobalId } from '../../src/schema/global-id.ts';
import type { Simulator } from '../../src/simulator/server.ts';
import { eventually } from './async-queue.ts';
import { startGatewayProcess, type GatewayProcess, type GatewayProcessOptions } from './gateway-process.ts';
import { asArray, asRecord } from './http.ts';

/**
 * What the multi-replica tests of the live layer share: replicas as processes, graphql-ws clients
 * that count their (re)connections, subscribers that fold their `allocationChanges` events into a
 * view and note every breach of the protocol as they go (an index that does not grow, an
 * allocation version delivered twice...), and looks into Redis.
 */

/**
 * The same question (one watch key) asked with different selections. Each selects task states
 * somewhere: a selection without them would be served by a lighter watch of its own.
 */
export const CHANGES_SELECTIONS = [
  `subscription { allocationChanges(namespace: "default") {
    initial index nomadReachable removed
    added { allocId modifyIndex }
    updated { allocId modifyIndex taskStates { state } }
  } }`,
  `subscription Changes($namespace: String) { allocationChanges(namespace: $namespace) {
    index initial nomadReachable removed
    added { id allocId modifyIndex name clientStatus }
    updated { id allocId modifyIndex clientStatus taskStates { name state restarts } }
  } }`,
  `subscription { allocationChanges(namespace: "default") {
    nomadReachable initial index
    updated { allocId modifyIndex desiredStatus job { jobId } taskStates { name } }
    added { allocId modifyIndex job { jobId } }
    removed
  } }`,
] as const;

/** The variables every selection above accepts (only the second uses them). */
export const DEFAULT_NAMESPACE = { namespace: 'default' };

export interface ChangesEvent {
  initial: boolean;
  index: bigint;
  nomadReachable: boolean;
  /** allocId → modifyIndex, as delivered. */
  added: { allocId: string; modifyIndex: bigint }[];
  updated: { allocId: string; modifyIndex: bigint }[];
  /** Nomad allocation ids (decoded from the global ids). */
  removed: string[];
}

function decodeChanges(result: unknown): ChangesEvent {
  const record = asRecord(result);
  if (record['errors'] !== undefined) throw new Error(`errors in an event: ${JSON.stringify(record['errors'])}`);
  const event = asRecord(asRecord(record['data'])['allocationChanges']);
  const allocs = (key: string) =>
    asArray(event[key]).map((a) => {
      const r = asRecord(a);
      return { allocId: String(r['allocId']), modifyIndex: BigInt(String(r['modifyIndex'])) };
    });
  return {
    initial: event['initial'] === true,
    index: BigInt(String(event['index'])),
    nomadReachable: event['nomadReachable'] === true,
    added: allocs('added'),
    updated: allocs('updated'),
    removed: asArray(event['removed']).map((id) => {
      const key = decodeGlobalId(String(id));
      if (key === undefined || key.type !== 'Allocation') throw new Error(`removed holds ${String(id)}, not an allocation's global id`);
      return key.id;
    }),
  };
}

/** A graphql-ws client on one replica, counting how often its socket opened and closed. */
export interface WsConnection {
  readonly client: Client;
  readonly replica: GatewayProcess;
  readonly counts: { connected: number; closed: number };
}

/** A graphql-ws client (no retries: a drop shows up as a `closed` at once); disposed when the test ends. */
export function connectWs(replica: GatewayProcess, token?: string): WsConnection {
  const counts = { connected: 0, closed: 0 };
  const client = createClient({
    url: replica.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token === undefined ? {} : { 'X-Nomad-Token': token },
    on: {
      connected: () => (counts.connected += 1),
      closed: () => (counts.closed += 1),
    },
  });
  onTestFinished(() => client.dispose());
  return { client, replica, counts };
}

/**
 * One `allocationChanges` subscriber. Its events are folded into `view` (allocId → modifyIndex)
 * as they arrive, and whatever breaks the protocol lands in `problems`:
 * the first event not `initial` (or a later one that is), a change event whose index does not
 * grow, an (allocId, modifyIndex) delivered twice, a version older than the one held, an
 * allocation `added` that the view holds or `updated`/`removed` that it does not, lists on a
 * `nomadReachable: false` event.
 */
export interface LiveSubscriber {
  readonly label: string;
  readonly events: ChangesEvent[];
  readonly view: Map<string, bigint>;
  readonly problems: string[];
  /** What `error` received (a close event, GraphQL errors); empty while all is well. */
  readonly errors: unknown[];
  readonly completed: boolean;
  dispose(): void;
}

export function subscribeChanges(
  connection: WsConnection,
  options: { label: string; query?: string; variables?: Record<string, unknown> },
): LiveSubscriber {
  const events: ChangesEvent[] = [];
  const view = new Map<string, bigint>();
  const problems: string[] = [];
  const errors: unknown[] = [];
  const delivered = new Set<string>();
  let lastChangeIndex = -1n;
  let completed = false;
  const problem = (text: string): void => {
    problems.push(`${options.label} event #${events.length - 1}: ${text}`);
  };

  const fold = (event: ChangesEvent): void => {
    events.push(event);
    const first = events.length === 1;
    if (first !== event.initial) problem(first ? 'the first event is not initial' : 'a later event is initial (a resubscription?)');
    if (!event.nomadReachable) {
      if (event.added.length + event.updated.length + event.removed.length > 0) problem('an unreachable event with changes');
      if (event.index !== lastChangeIndex) problem(`an unreachable event at ${event.index}, not at the last index ${lastChangeIndex}`);
      return;
    }
    const afterOutage = events.at(-2)?.nomadReachable === false;
    // After an outage the "reachable again" event may repeat the index when nothing changed meanwhile.
    if (afterOutage ? event.index < lastChangeIndex : event.index <= lastChangeIndex) problem(`index ${event.index} after ${lastChangeIndex}`);
    lastChangeIndex = event.index > lastChangeIndex ? event.index : lastChangeIndex;
    for (const [kind, list] of [
      ['added', event.added],
      ['updated', event.updated],
    ] as const) {
      for (const { allocId, modifyIndex } of list) {
        const pair = `${allocId}@${modifyIndex}`;
        if (delivered.has(pair)) problem(`${pair} delivered twice`);
        delivered.add(pair);
        const held = view.get(allocId);
        if (kind === 'added' && held !== undefined && !first) problem(`${allocId} added while held at ${held}`);
        if (kind === 'updated' && held === undefined) problem(`${allocId} updated while not held`);
        if (held !== undefined && modifyIndex <= held) problem(`${allocId} went from ${held} to ${modifyIndex}`);
        if (modifyIndex > event.index) problem(`${pair} in an event at ${event.index}`);
        view.set(allocId, modifyIndex);
      }
    }
    for (const allocId of event.removed) {
      if (!view.delete(allocId)) problem(`${allocId} removed while not held`);
    }
  };

  const dispose = connection.client.subscribe(
    { query: options.query ?? CHANGES_SELECTIONS[0], variables: options.variables ?? DEFAULT_NAMESPACE },
    {
      next: (result) => {
        try {
          fold(decodeChanges(result));
        } catch (error) {
          problem(error instanceof Error ? error.message : String(error));
        }
      },
      error: (error) => errors.push(error),
      complete: () => (completed = true),
    },
  );
  return {
    label: options.label,
    events,
    view,
    problems,
    errors,
    get completed() {
      return completed;
    },
    dispose,
  };
}

/** `count` clients on `replica`, each with `perClient` subscribers cycling through `selections`. */
export function subscribeMany(
  replica: GatewayProcess,
  options: { clients: number; perClient: number; token?: string; variables?: Record<string, unknown>; selections?: readonly string[] },
): { connections: WsConnection[]; subscribers: LiveSubscriber[] } {
  const selections = options.selections ?? CHANGES_SELECTIONS;
  const connections: WsConnection[] = [];
  const subscribers: LiveSubscriber[] = [];
  for (let c = 0; c < options.clients; c += 1) {
    const connection = connectWs(replica, options.token);
    connections.push(connection);
    for (let s = 0; s < options.perClient; s += 1) {
      const n = c * options.perClient + s;
      subscribers.push(subscribeChanges(connection, { label: `${replica.name}/c${c}/s${s}`, query: selections[n % selections.length], variables: options.variables ?? DEFAULT_NAMESPACE }));
    }
  }
  return { connections, subscribers };
}

/** allocId → ModifyIndex of the simulator's allocations that `include` selects (by default: namespace `default`). */
export function storeView(sim: Simulator, include: (namespace: string) => boolean = (ns) => ns === 'default'): Map<string, bigint> {
  return new Map([...sim.store.allocs.values()].filter((a) => include(a.Namespace)).map((a) => [a.ID, BigInt(a.ModifyIndex)]));
}

function viewDifference(actual: ReadonlyMap<string, bigint>, expected: ReadonlyMap<string, bigint>): string | undefined {
  const lines: string[] = [];
  for (const [id, index] of expected) if (actual.get(id) !== index) lines.push(`${id}: ${actual.get(id) ?? 'missing'} instead of ${index}`);
  for (const [id, index] of actual) if (!expected.has(id)) lines.push(`${id}: held at ${index}, not expected`);
  return lines.length === 0 ? undefined : lines.join('; ');
}

/**
 * Waits until every subscriber's view equals `expected()` (re-evaluated on each poll, so it may
 * follow the simulator), failing with the first few differences after `timeoutMs`.
 */
export async function converged(subscribers: readonly LiveSubscriber[], expected: () => ReadonlyMap<string, bigint>, { timeoutMs = 5_000, what = 'every view to match the simulator' } = {}): Promise<void> {
  try {
    await eventually(async () => subscribers.every((s) => viewDifference(s.view, expected()) === undefined), what, { timeoutMs, intervalMs: 20 });
  } catch (error) {
    const want = expected();
    const off = subscribers
      .map((s) => ({ label: s.label, difference: viewDifference(s.view, want), events: s.events.length, errors: s.errors.length }))
      .filter((s) => s.difference !== undefined);
    throw new Error(`${error instanceof Error ? error.message : String(error)}: ${off.length} of ${subscribers.length} differ, e.g. ${JSON.stringify(off.slice(0, 3))}`);
  }
}

/** Waits until every subscriber has had its initial event. */
export async function allInitial(subscribers: readonly LiveSubscriber[], timeoutMs = 10_000): Promise<void> {
  await eventually(async () => subscribers.every((s) => s.events.length > 0 || s.errors.length > 0), 'every initial event', { timeoutMs, intervalMs: 20 });
  const failed = subscribers.filter((s) => s.errors.length > 0);
  if (failed.length > 0) throw new Error(`${failed.length} subscriptions failed, e.g. ${failed[0]?.label}: ${String(failed[0]?.errors[0])}`);
}

/** Every problem any subscriber noted (expect it to equal []). */
export function problemsOf(subscribers: readonly LiveSubscriber[]): string[] {
  return subscribers.flatMap((s) => s.problems);
}

/** Lease key → holder (a replicaId), for every `nomadgw:lease:*` key. */
export async function leaseHolders(redis: Redis, prefix = 'nomadgw:'): Promise<Map<string, string>> {
  const keys = await redis.keys(`${prefix}lease:*`);
  const holders = new Map<string, string>();
  for (const key of keys) {
    const holder = await redis.get(key);
    if (holder !== null) holders.set(key, holder);
  }
  return holders;
}

/** Waits until exactly one lease exists and returns its holder. */
export async function soleLeaseHolder(redis: Redis, timeoutMs = 5_000): Promise<{ key: string; holder: string }> {
  let found: { key: string; holder: string } | undefined;
  await eventually(
    async () => {
      // Right after a Redis restart the test's own connection may not be back yet.
      if (redis.status !== 'ready') return false;
      const holders = [...(await leaseHolders(redis))];
      const [only] = holders;
      found = holders.length === 1 && only !== undefined ? { key: only[0], holder: only[1] } : undefined;
      return found !== undefined;
    },
    'exactly one lease',
    { timeoutMs, intervalMs: 20 },
  );
  if (found === undefined) throw new Error('unreachable');
  return found;
}

/** Samples `read()` every `intervalMs` until the test ends; `max` is the highest value seen. */
export function sampleMax(read: () => number, intervalMs = 2): { readonly max: number; stop(): void } {
  let max = read();
  const timer = setInterval(() => {
    max = Math.max(max, read());
  }, intervalMs);
  const stop = (): void => clearInterval(timer);
  onTestFinished(stop);
  return {
    get max() {
      return Math.max(max, read());
    },
    stop,
  };
}

/** POSTs one operation to a replica's /graphql and fails on GraphQL errors. */
export async function graphqlPost(replica: GatewayProcess, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${replica.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = asRecord(await response.json());
  if (body['errors'] !== undefined) throw new Error(`${replica.name}: ${JSON.stringify(body['errors'])}`);
  return asRecord(body['data']);
}

const STOP = `mutation Stop($input: StopAllocationInput!) { stopAllocation(input: $input) { evalId } }`;
const RESTART = `mutation Restart($input: RestartAllocationInput!) { restartAllocation(input: $input) { allocation { allocId } } }`;

/** `stopAllocation` through a replica (by global id, as a frontend would send it). */
export async function stopThrough(replica: GatewayProcess, allocId: string, headers?: Record<string, string>): Promise<void> {
  await graphqlPost(replica, STOP, { input: { id: encodeGlobalId({ type: 'Allocation', id: allocId }) } }, headers);
}

/** `restartAllocation` through a replica. */
export async function restartThrough(replica: GatewayProcess, allocId: string, headers?: Record<string, string>): Promise<void> {
  await graphqlPost(replica, RESTART, { input: { id: encodeGlobalId({ type: 'Allocation', id: allocId }) } }, headers);
}

/** Starts the replicas together (each with the same options but its name). */
export async function startReplicas(names: readonly string[], options: Omit<GatewayProcessOptions, 'name'>): Promise<GatewayProcess[]> {
  return Promise.all(names.map((name) => startGatewayProcess({ ...options, name })));
}

/** A running allocation of the default namespace not in `exclude`, for the next scripted change. */
export function runningAlloc(sim: Simulator, exclude: ReadonlySet<string> = new Set(), namespace = 'default'): string {
  for (const alloc of sim.store.allocs.values()) {
    if (alloc.Namespace === namespace && alloc.ClientStatus === 'running' && alloc.DesiredStatus === 'run' && !exclude.has(alloc.ID)) return alloc.ID;
  }
  throw new Error(`no running allocation left in ${namespace}`);
}

/**
 * Keeps the cluster changing (a task failure, whose replacement follows, or a new job) every
 * `intervalMs` until `stop()`, which resolves once the cluster is idle again. Load, not a wait.
 */
export function startChurn(sim: Simulator, intervalMs = 40): { readonly changes: number; stop(): Promise<void> } {
  let changes = 0;
  const timer = setInterval(() => {
    changes += 1;
    const running = changes % 3 === 0 ? undefined : [...sim.store.allocs.values()].find((a) => a.ClientStatus === 'running' && a.DesiredStatus === 'run' && a.Namespace === 'default');
    if (running === undefined) sim.cluster.createJob({ id: `churn-${changes}`, count: 1 });
    else sim.cluster.failTask(running.ID, 'server');
  }, intervalMs);
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await sim.cluster.idle();
  };
  onTestFinished(() => clearInterval(timer));
  return {
    get changes() {
      return changes;
    },
    stop,
  };
}
