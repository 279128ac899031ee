/**
 * The replica's live views: one `KeyWatch` per watch key (an upstream question plus a token
 * digest) with at least one local subscriber. Across replicas, the one that holds the key's lease
 * runs the Nomad blocking-query loop and publishes what changed on the key's channel; every
 * interested replica (the leader too) applies those messages to its own copy of the view and
 * hands each local subscriber its events. See WATCHING.md for the protocol.
 */
import type { Logger } from 'pino';
import type { GraphQLError } from 'graphql';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { createLoaders, type Loaders } from '../loaders.ts';
import { bindToCaller, type Caller, type CallerNomadClient } from '../nomad/caller-client.ts';
import type { NomadClient } from '../nomad/client.ts';
import { NomadHttpError } from '../nomad/errors.ts';
import type { AllocListStub, Allocation } from '../nomad/types.ts';
import type { Backbone } from '../pubsub/backbone.ts';
import type { LeaseStore } from '../pubsub/lease.ts';
import { allocationListFetch, allocationReadFetch } from './allocation-sources.ts';
import { abortableDelay, watchBlockingQuery, type BlockingFetch } from './blocking-query.ts';
import { applyChanges, classify, diffAllocations } from './diff.ts';
import type { AllocationChangesEvent, AllocationEvent, AllocationListSpec, LiveAllocations } from './live-allocations.ts';
import { decodeWatchMessage, encodeWatchMessage, type WatchMessage } from './messages.ts';
import { createSubscriberQueue, type SubscriberQueue } from './subscriber-queue.ts';
import { watchKey, type WatchSpec } from './watch-key.ts';

/** Timing and bounds of the watchers. */
export interface WatchTiming {
  /** How long a lease lasts unless renewed; a dead holder is replaced within this. @default 15000 */
  leaseTtlMs: number;
  /** Nomad `wait` of each blocking query: below common proxy idle timeouts (60 s). @default 55000 */
  waitMs: number;
  /** At most one upstream request per key this often, so a burst of changes is no tight loop. @default 250 */
  minIntervalMs: number;
  /** Events a subscriber may leave unread before it is ended (SUBSCRIBER_TOO_SLOW). @default 256 */
  maxBufferedEvents: number;
}

/** Default of {@link WatchHubOptions.maxSubscriptions}. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 10_000;

export const DEFAULT_WATCH_TIMING: WatchTiming = { leaseTtlMs: 15_000, waitMs: 55_000, minIntervalMs: 250, maxBufferedEvents: 256 };

export interface WatchHubOptions {
  /** The shared Nomad client; each watch calls it with its own key's token. */
  nomad: NomadClient;
  backbone: Backbone;
  leases: LeaseStore;
  /** This replica's name as a lease owner: unique per process. */
  replicaId: string;
  /** Prefix of lease keys and channels (the backbone adds its own channel prefix too). */
  keyPrefix?: string;
  logger: Logger;
  timing?: Partial<WatchTiming>;
  /**
   * Subscriptions this replica serves at once, over every transport; one more is refused with
   * TOO_MANY_SUBSCRIPTIONS (another replica behind the load balancer may take it).
   * @default 10000
   */
  maxSubscriptions?: number;
  /** Waits `ms` unless `signal` aborts first (time is a parameter, for tests). */
  delay?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface WatchHub extends LiveAllocations {
  /** Watch keys with local subscribers, and whether this replica leads each. */
  watches(): { key: string; subscribers: number; leading: boolean }[];
  /** Subscriptions admitted and not ended, over every key. */
  activeSubscriptions(): number;
  /**
   * Shutdown, first: refuses new subscriptions (SHUTTING_DOWN) and hands every upstream loop over:
   * stops leading, releases the leases at once and no longer asks for them, so another replica
   * leads each key without waiting for the TTL (one that serves the key takes it at its next
   * attempt, within a third of the TTL; one a client reconnects to, at once). The local
   * subscribers stay open, fed by whichever replica leads now, until `stop()`.
   */
  drain(): Promise<void>;
  /** Ends every subscription, stops every loop and releases every lease; resolves once every watch has left its channel. */
  stop(): Promise<void>;
}

/**
 * Whether an upstream failure means "Nomad refuses this token or question" (a revoked token, a
 * filter Nomad rejects, an allocation the token may not read), which ends subscriptions, rather
 * than an outage, which they wait out.
 */
function isRefusal(error: unknown): error is NomadHttpError {
  return error instanceof NomadHttpError && (error.status === 403 || error.status === 400 || (error.status === 500 && /^Unknown allocation "/.test(error.nomadMessage)));
}

/** The view a list watch keeps, and a single-allocation watch's. */
type ListView = { kind: 'list'; allocs: Map<string, AllocListStub> };
type OneView = { kind: 'one'; alloc: Allocation | null };

/** The blocking read behind a watch, as a view: the list keyed by id, or the one allocation. */
function viewFetch(spec: WatchSpec, token: string | undefined, nomad: NomadClient): BlockingFetch<ListView | OneView> {
  if (spec.kind === 'allocations') {
    const { namespace, prefix, filter, taskStates } = spec;
    const list = allocationListFetch(nomad, { namespace, prefix, filter, taskStates, token });
    return async (request) => {
      const { index, value } = await list(request);
      return { index, value: { kind: 'list', allocs: new Map(value.map((a) => [a.ID, a])) } };
    };
  }
  const read = allocationReadFetch(nomad, spec.id, { token });
  return async (request) => {
    const { index, value } = await read(request);
    return { index, value: { kind: 'one', alloc: value } };
  };
}

/**
 * One watch key on this replica: its local subscribers, its copy of the view (`index` is the
 * Nomad index it is current at), its channel subscription and, while this replica holds the
 * lease, the upstream loop.
 */
class KeyWatch {
  readonly subscribers = new Set<SubscriberQueue<AllocationChangesEvent> | SubscriberQueue<AllocationEvent>>();
  /** Subscribers still waiting for the first view. */
  pending = 0;
  private view: ListView | OneView | undefined;
  private index = 0n;
  private unreachable = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly stopping = new AbortController();
  private leader: AbortController | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private stopReconnect: (() => void) | undefined;
  /** Handed over (`handOver`): neither leads nor asks for the lease any more. */
  private handedOver = false;
  /** Messages that arrived before the first view, applied right after it (see `start`). */
  private early: WatchMessage[] = [];
  /** Resolves once the first view is in place; rejects with the first fetch's error. */
  readonly ready: Promise<void>;

  constructor(
    readonly key: string,
    private readonly spec: WatchSpec,
    private readonly token: string | undefined,
    private readonly hub: HubParts,
  ) {
    this.fetchView = viewFetch(spec, token, hub.nomad);
    this.reads = bindToCaller(hub.nomad, { token, signal: this.stopping.signal });
    this.ready = this.start();
  }

  get leading(): boolean {
    return this.leader !== undefined;
  }

  private get channel(): string {
    return `${this.hub.keyPrefix}watch:${this.key}`;
  }

  private get leaseKey(): string {
    return `${this.hub.keyPrefix}lease:${this.key}`;
  }

  private async start(): Promise<void> {
    // Subscribe before the first read, so no change published after it can slip between.
    this.unsubscribe = await this.hub.backbone.subscribe(this.channel, (text) => this.onMessage(text));
    const first = await this.readNow();
    this.view = first.view;
    this.index = first.index;
    // A message published while the first read was under way may be newer than its answer: the
    // read can be answered before a change and reach us after the leader's message about that
    // change (a large list pages for a while; Redis is quick). Dropping such a message lost the
    // change on this replica until some later message revealed the gap. Messages at or below the
    // first view's index change nothing here.
    for (const message of this.early.splice(0)) this.apply(message);
    this.stopReconnect = this.hub.backbone.onReconnect(() => void this.resync('backbone reconnected'));
    if (this.handedOver || this.stopping.signal.aborted) return;
    const { leaseTtlMs } = this.hub.timing;
    this.leaseTimer = setInterval(() => void this.tendLease(), Math.max(50, Math.floor(leaseTtlMs / 3)));
    void this.tendLease();
  }

  /**
   * The first event for a new local subscriber: everything the view holds now. Subscribers that
   * join while the view stays the same get the same event, and so share its reads.
   */
  initialEvent(): AllocationChangesEvent | AllocationEvent {
    const view = this.view;
    if (view === undefined) throw new Error('watch not ready');
    if (this.initialCache !== undefined) return this.initialCache;
    const loaders = this.eventLoaders();
    this.initialCache =
      view.kind === 'one'
        ? { index: this.index, allocation: view.alloc, loaders }
        : { initial: true, index: this.index, added: [...view.allocs.values()], updated: [], removed: [], taskStates: this.taskStates, nomadReachable: !this.unreachable, loaders };
    return this.initialCache;
  }

  /** A last event that ends a subscriber's stream with `error` (it resolves to that error). */
  errorEvent(error: GraphQLError): AllocationChangesEvent | AllocationEvent {
    const loaders = this.eventLoaders();
    if (this.spec.kind === 'allocation') return { index: this.index, allocation: null, loaders, error };
    return { initial: false, index: this.index, added: [], updated: [], removed: [], taskStates: this.taskStates, nomadReachable: !this.unreachable, loaders, error };
  }

  /** Whether the list's stubs carry task states (see `AllocationListSpec.taskStates`). */
  private get taskStates(): boolean {
    return this.spec.kind === 'allocations' && this.spec.taskStates;
  }

  /** Fresh loaders for one event: its reads, with this key's token, shared by its subscribers here. */
  private eventLoaders(): Loaders {
    return createLoaders(this.reads);
  }

  /** The upstream read of the watched thing, with this key's token: blocking when `index` > 0. */
  private readonly fetchView: BlockingFetch<ListView | OneView>;
  /** Nomad as this key's token, for the reads events cause; ends with the watch, not with a subscriber. */
  private readonly reads: CallerNomadClient;
  /** The initial event while the view has not changed since it was made. */
  private initialCache: AllocationChangesEvent | AllocationEvent | undefined;

  /** A plain (non-blocking) read of the current view. */
  private async readNow(): Promise<{ index: bigint; view: ListView | OneView }> {
    const { index, value } = await this.fetchView({ index: 0n, waitMs: this.hub.timing.waitMs, signal: this.stopping.signal });
    return { index, view: value };
  }

  /** Renews the lease while leading, tries to take it while not: a dead holder is replaced within one TTL. */
  private async tendLease(): Promise<void> {
    if (this.stopping.signal.aborted || this.handedOver) return;
    const { leases, replicaId, timing } = this.hub;
    try {
      const held = this.leading ? await leases.renew(this.leaseKey, replicaId, timing.leaseTtlMs) : false;
      if (held || this.handedOver) return;
      if (await leases.acquire(this.leaseKey, replicaId, timing.leaseTtlMs)) {
        // Won while `stop()` or `handOver()` ran: it found no lease to give back, so nobody would,
        // and the key could have no leader on any replica for a whole TTL.
        if (this.stopping.signal.aborted || this.handedOver) await leases.release(this.leaseKey, replicaId);
        else if (!this.leading) this.lead();
      } else if (this.leading) {
        this.leader?.abort();
        this.leader = undefined;
      }
    } catch (error) {
      // The lease store is unreachable (Redis down): keep doing what we do; renew or yield on its return.
      this.hub.logger.debug(`lease ${this.key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The upstream loop, run while this replica holds the lease. */
  private lead(): void {
    const leader = new AbortController();
    this.leader = leader;
    const signal = AbortSignal.any([leader.signal, this.stopping.signal]);
    void this.runLoop(signal).finally(() => {
      if (this.leader === leader) this.leader = undefined;
    });
  }

  private async runLoop(signal: AbortSignal): Promise<void> {
    const { timing, delay, logger } = this.hub;
    // Start from this replica's own view: whatever changed since the last message it applied
    // (a dead leader's last publish included) shows up in the first diff, so nothing is lost.
    let baseline = this.view;
    if (baseline === undefined) return;
    /** The index of the last message published: followers at it (or past it) have missed nothing. */
    let publishedIndex = this.index;
    let saidUnreachable = false;
    let resync = false;
    const updates = watchBlockingQuery({
      fetch: this.fetchView,
      startIndex: this.index,
      waitMs: timing.waitMs,
      minIntervalMs: timing.minIntervalMs,
      delay,
      signal,
    });
    for await (const update of updates) {
      if (update.kind === 'reset') {
        // The index went backwards: a restored or rebuilt cluster. Compare the next answer by content.
        logger.warn(`watch ${this.key}: Nomad's index went back from ${update.from} to ${update.to}; resynchronising`);
        resync = true;
        continue;
      }
      if (update.kind === 'error') {
        const { error, attempt } = update;
        logger.warn(`watch ${this.key}: upstream failed (attempt ${attempt}): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        if (isRefusal(error)) {
          await this.publish({ kind: 'refused', index: publishedIndex, status: error.status, nomadMessage: error.nomadMessage });
          return;
        }
        if (!saidUnreachable) {
          saidUnreachable = true;
          await this.publish({ kind: 'unreachable', index: publishedIndex });
        }
        continue;
      }
      const answer = { index: update.index, view: update.value };
      const message = this.changeMessage(baseline, publishedIndex, answer, resync);
      if (message !== undefined || saidUnreachable) {
        const sent = message ?? this.emptyChange(publishedIndex, answer.index, answer.view);
        await this.publish(sent);
        publishedIndex = sent.index;
        saidUnreachable = false;
      }
      resync = false;
      baseline = answer.view;
      if (answer.view.kind === 'one' && answer.view.alloc === null) return; // gone: nothing more to watch
    }
  }

  /** A message that changes nothing but the index: after an outage, it tells subscribers Nomad is back. */
  private emptyChange(fromIndex: bigint, index: bigint, view: ListView | OneView): WatchMessage {
    if (view.kind === 'one') return { kind: 'allocation', index, allocation: view.alloc };
    return { kind: 'changes', fromIndex, index, upserts: [], removed: [] };
  }

  /** The message that takes `baseline` (at `fromIndex`) to `answer`, or undefined when nothing changed. */
  private changeMessage(baseline: ListView | OneView, fromIndex: bigint, answer: { index: bigint; view: ListView | OneView }, resync: boolean): WatchMessage | undefined {
    if (baseline.kind === 'list' && answer.view.kind === 'list') {
      const { upserts, removed } = diffAllocations(baseline.allocs, [...answer.view.allocs.values()], { resync });
      if (upserts.length === 0 && removed.length === 0) return undefined;
      return { kind: 'changes', fromIndex, index: answer.index, upserts, removed, ...(resync ? { resync } : {}) };
    }
    if (baseline.kind === 'one' && answer.view.kind === 'one') {
      const before = baseline.alloc;
      const after = answer.view.alloc;
      const same = before === null ? after === null : after !== null && after.ModifyIndex === before.ModifyIndex;
      return same && !resync ? undefined : { kind: 'allocation', index: answer.index, allocation: after };
    }
    return undefined;
  }

  /** Publishes on the key's channel; when the backbone cannot take it, delivers it here at least. */
  private async publish(message: WatchMessage): Promise<void> {
    const text = encodeWatchMessage(message);
    try {
      await this.hub.backbone.publish(this.channel, text);
    } catch (error) {
      this.hub.logger.warn(`watch ${this.key}: publish failed, delivering locally: ${error instanceof Error ? error.message : String(error)}`);
      this.onMessage(text);
    }
  }

  private onMessage(text: string): void {
    let message: WatchMessage;
    try {
      message = decodeWatchMessage(text);
    } catch (error) {
      this.hub.logger.error(`watch ${this.key}: dropped an undecodable message: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.apply(message);
  }

  private apply(message: WatchMessage): void {
    const view = this.view;
    if (view === undefined) {
      this.early.push(message); // not ready: applied once the first view is in place
      return;
    }
    this.initialCache = undefined;
    if (message.kind === 'refused') {
      // Rebuilt as the error the leader got, so the GraphQL layer codes it as it codes a query's.
      const refused = new NomadHttpError({
        method: 'GET',
        path: this.spec.kind === 'allocation' ? '/v1/allocation/:id' : '/v1/allocations',
        status: message.status,
        nomadMessage: message.nomadMessage,
        meta: { LastIndex: message.index, KnownLeader: true, LastContact: 0, NextToken: '' },
      });
      const loaders = this.eventLoaders();
      for (const subscriber of this.subscribers) {
        if (view.kind === 'list') {
          const last: AllocationChangesEvent = { initial: false, index: this.index, added: [], updated: [], removed: [], taskStates: this.taskStates, nomadReachable: true, loaders, error: refused };
          (subscriber as SubscriberQueue<AllocationChangesEvent>).push(last);
        } else {
          (subscriber as SubscriberQueue<AllocationEvent>).push({ index: this.index, allocation: null, loaders, error: refused });
        }
        subscriber.end();
      }
      return;
    }
    if (message.kind === 'unreachable') {
      if (this.unreachable) return;
      this.unreachable = true;
      if (view.kind === 'list') {
        this.emit({ initial: false, index: this.index, added: [], updated: [], removed: [], taskStates: this.taskStates, nomadReachable: false, loaders: this.eventLoaders() });
      }
      return;
    }
    const wasUnreachable = this.unreachable;
    const resync = message.kind === 'changes' && message.resync === true;
    if (message.index <= this.index && !wasUnreachable && !resync) return; // already applied (or older)
    if (message.kind === 'changes' && view.kind === 'list') {
      if (message.fromIndex > this.index && !resync) {
        void this.resync(`missed changes between ${this.index} and ${message.fromIndex}`);
        return;
      }
      const { added, updated } = classify(view.allocs, message.upserts, { resync });
      const removed = message.removed.filter((id) => view.allocs.has(id));
      view.allocs = applyChanges(view.allocs, { upserts: message.upserts, removed: message.removed }, { resync });
      this.unreachable = false;
      if (message.index > this.index || resync) this.index = message.index;
      if (added.length + updated.length + removed.length > 0 || wasUnreachable) {
        this.emit({ initial: false, index: this.index, added, updated, removed, taskStates: this.taskStates, nomadReachable: true, loaders: this.eventLoaders() });
      }
      return;
    }
    if (message.kind === 'allocation' && view.kind === 'one') {
      const before = view.alloc;
      view.alloc = message.allocation;
      this.unreachable = false;
      this.index = message.index > this.index ? message.index : this.index;
      const changed = before === null ? message.allocation !== null : message.allocation === null || message.allocation.ModifyIndex > before.ModifyIndex;
      if (changed) this.emitOne({ index: this.index, allocation: message.allocation, loaders: this.eventLoaders() });
    }
  }

  /** Re-reads the view after messages may have been lost, and hands subscribers the difference. */
  private async resync(reason: string): Promise<void> {
    if (this.stopping.signal.aborted || this.view === undefined) return;
    this.hub.logger.info(`watch ${this.key}: resynchronising (${reason})`);
    try {
      const from = this.index;
      const answer = await this.readNow();
      // Messages applied while this read was under way may have taken the view past its answer.
      // An answer below the index the read started from means Nomad's index went backwards (a
      // restored cluster): resynchronise by content. One at or below the view's index otherwise
      // is merely older news: treating it as a reset took subscribers back to an older view
      // (index and ModifyIndex going down, the newer versions then delivered twice).
      if (answer.index >= from && answer.index <= this.index) return;
      const message = this.changeMessage(this.view, this.index, answer, answer.index < from);
      if (message !== undefined) this.apply(message.kind === 'changes' ? { ...message, fromIndex: this.index } : message);
    } catch (error) {
      this.hub.logger.warn(`watch ${this.key}: resync failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private emit(event: AllocationChangesEvent): void {
    for (const subscriber of this.subscribers) (subscriber as SubscriberQueue<AllocationChangesEvent>).push(event);
  }

  private emitOne(event: AllocationEvent): void {
    for (const subscriber of this.subscribers) {
      const queue = subscriber as SubscriberQueue<AllocationEvent>;
      queue.push(event);
      if (event.allocation === null) queue.end();
    }
  }

  /**
   * Stops leading and releases the lease if held, and asks for it no more; the subscribers stay,
   * and so does the channel, on which the next leader (on another replica) publishes.
   */
  async handOver(): Promise<void> {
    if (this.handedOver) return;
    this.handedOver = true;
    clearInterval(this.leaseTimer);
    const wasLeading = this.leading;
    this.leader?.abort();
    this.leader = undefined;
    if (wasLeading) await this.hub.leases.release(this.leaseKey, this.hub.replicaId).catch(() => undefined);
  }

  /** Stops the loop, releases the lease if held, leaves the channel. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    clearInterval(this.leaseTimer);
    this.stopReconnect?.();
    const wasLeading = this.leading;
    this.leader?.abort();
    this.leader = undefined;
    for (const subscriber of this.subscribers) subscriber.end();
    // The lease first: another replica can lead the key as soon as it is gone.
    if (wasLeading) await this.hub.leases.release(this.leaseKey, this.hub.replicaId).catch(() => undefined);
    await this.ready.catch(() => undefined);
    await this.unsubscribe?.();
  }
}

interface HubParts {
  nomad: NomadClient;
  backbone: Backbone;
  leases: LeaseStore;
  replicaId: string;
  keyPrefix: string;
  logger: Logger;
  timing: WatchTiming;
  delay: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Creates the replica's watch hub. It owns its watches, not the backbone, lease store or Nomad client. */
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const parts: HubParts = {
    nomad: options.nomad,
    backbone: options.backbone,
    leases: options.leases,
    replicaId: options.replicaId,
    keyPrefix: options.keyPrefix ?? '',
    logger: options.logger,
    timing: { ...DEFAULT_WATCH_TIMING, ...options.timing },
    delay: options.delay ?? abortableDelay,
  };
  const watches = new Map<string, KeyWatch>();
  const maxSubscriptions = options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
  /** Subscriptions admitted and not yet ended (waiting for a first view included). */
  let active = 0;
  let draining = false;
  /** Watches stopping after their last subscriber left: `stop()` waits for them (their lease release, on Redis). */
  const stopping = new Set<Promise<void>>();
  const stopWatch = (watch: KeyWatch): void => {
    const stopped = watch.stop();
    stopping.add(stopped);
    void stopped.finally(() => stopping.delete(stopped));
  };

  async function subscribe<E extends AllocationChangesEvent | AllocationEvent>(spec: WatchSpec, caller: Caller): Promise<AsyncIterable<E>> {
    if (draining) throw gatewayError(ErrorCode.SHUTTING_DOWN, 'This gateway replica is shutting down; subscribe again (another replica will take it)');
    if (active >= maxSubscriptions) {
      throw gatewayError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `This gateway replica serves at most ${maxSubscriptions} subscriptions at once; try again later`, {
        maximum: maxSubscriptions,
      });
    }
    active += 1;
    let counted = true;
    const uncount = (): void => {
      if (counted) active -= 1;
      counted = false;
    };
    try {
      return await admitted<E>(spec, caller, uncount);
    } catch (error) {
      uncount();
      throw error;
    }
  }

  async function admitted<E extends AllocationChangesEvent | AllocationEvent>(spec: WatchSpec, caller: Caller, uncount: () => void): Promise<AsyncIterable<E>> {
    const key = watchKey(spec, caller.token);
    let watch = watches.get(key);
    if (watch === undefined) {
      watch = new KeyWatch(key, spec, caller.token, parts);
      watches.set(key, watch);
    }
    const current = watch;
    const forget = (): void => {
      if (current.subscribers.size === 0 && current.pending === 0 && watches.get(key) === current) {
        watches.delete(key);
        stopWatch(current);
      }
    };
    // Counted while it waits for the first view, so the watch is not stopped under it, but not
    // yet a subscriber: its first event must be the initial one.
    current.pending += 1;
    try {
      await current.ready;
    } catch (error) {
      current.pending -= 1;
      if (watches.get(key) === current) watches.delete(key); // a failed watch is not reused
      stopWatch(current);
      throw error;
    }
    current.pending -= 1;
    if (caller.signal?.aborted === true) {
      // The caller left while the first view was read.
      uncount();
      forget();
      return { [Symbol.asyncIterator]: () => ({ next: async () => ({ value: undefined, done: true }) }) };
    }
    const queue = createSubscriberQueue<E>({
      maxBuffered: parts.timing.maxBufferedEvents,
      overflowEvent: (error) => current.errorEvent(error) as E,
      signal: caller.signal,
      onClose: () => {
        uncount();
        current.subscribers.delete(queue as SubscriberQueue<AllocationChangesEvent>);
        forget();
      },
    });
    current.subscribers.add(queue as SubscriberQueue<AllocationChangesEvent>);
    const first = current.initialEvent() as E;
    queue.push(first);
    if ('allocation' in first && first.allocation === null) queue.end();
    return queue.events;
  }

  return {
    allocationChanges: (spec: AllocationListSpec, caller) => subscribe<AllocationChangesEvent>({ kind: 'allocations', ...spec }, caller),
    allocation: (id, caller) => subscribe<AllocationEvent>({ kind: 'allocation', id }, caller),
    watches: () => [...watches.values()].map((w) => ({ key: w.key, subscribers: w.subscribers.size, leading: w.leading })),
    activeSubscriptions: () => active,
    drain: async () => {
      draining = true;
      await Promise.all([...watches.values()].map((w) => w.handOver()));
    },
    stop: async () => {
      draining = true;
      const all = [...watches.values()];
      watches.clear();
      await Promise.all([...all.map((w) => w.stop()), ...stopping]);
    },
  };
}
