import type { Allocation } from '../nomad/types.ts';
import { isTerminal } from './client-status.ts';
import { hasPrefix, watchedKeyPrefix } from './radix-watch.ts';
import type { Store } from './store.ts';
import { uuidKey } from './uuid-index.ts';

/**
 * Two secondary indexes of Nomad's `allocs` table (`nomad/state/schema.go` `allocTableSchema`),
 * byte for byte as go-memdb builds their keys: the order of their entries is the order the
 * endpoints that scan them answer in, and their shape decides which writes wake a blocking query.
 */
export interface AllocIndex {
  /** The entry of an allocation. */
  keyOf(alloc: Allocation): Uint8Array;
}

const utf8 = new TextEncoder();
const NUL = Uint8Array.of(0);

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** A string field index value: the text and a NUL terminator (`StringFieldIndex.FromArgs`). */
function stringField(text: string): Uint8Array {
  return concat(utf8.encode(text), NUL);
}

/** A non-unique index appends the primary key: the allocation id's 16 UUID bytes. */
function primaryKey(alloc: Allocation): Uint8Array {
  return Buffer.from(uuidKey(alloc.ID), 'hex');
}

/** `job`: Namespace, JobID. */
export const JOB_INDEX: AllocIndex = {
  keyOf: (alloc) => concat(stringField(alloc.Namespace), stringField(alloc.JobID), primaryKey(alloc)),
};

/** What `txn.Get("allocs", "job", namespace, jobID)` seeks. */
export function jobIndexSearch(namespace: string, jobId: string): Uint8Array {
  return concat(stringField(namespace), stringField(jobId));
}

/** `node`: the lowercased NodeID, then whether the allocation is terminal (a conditional index). */
export const NODE_INDEX: AllocIndex = {
  keyOf: (alloc) => concat(stringField(alloc.NodeID.toLowerCase()), Uint8Array.of(isTerminal(alloc) ? 1 : 0), primaryKey(alloc)),
};

/**
 * What `txn.Get("allocs", "node_prefix", nodeID)` seeks: the lowercased id without its
 * terminator, so any node whose id starts with it matches.
 */
export function nodeIndexSearch(nodeId: string): Uint8Array {
  return utf8.encode(nodeId.toLowerCase());
}

/** The allocations whose entries start with `search`, in index order. */
export function scanAllocIndex(store: Store, index: AllocIndex, search: Uint8Array): Allocation[] {
  return [...store.allocs.values()]
    .map((alloc) => ({ alloc, key: index.keyOf(alloc) }))
    .filter(({ key }) => hasPrefix(key, search))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ alloc }) => alloc);
}

/** The watch a blocking query over an index holds after a seek. */
interface IndexWatch {
  /** Whether a write since the watch was (re)armed would have closed memdb's channel. */
  fired(): boolean;
  /** Seeks again, as a query that ran but found nothing new does. */
  rearm(): void;
}

function watchAllocIndex(store: Store, index: AllocIndex, search: Uint8Array): IndexWatch {
  let prefix = search;
  let armedAt = 0n;
  const rearm = (): void => {
    prefix = watchedKeyPrefix([...store.allocs.values()].map((alloc) => index.keyOf(alloc)), search);
    armedAt = store.index;
  };
  rearm();
  return {
    // Every write to an allocation moves its ModifyIndex, and its key keeps the watched prefix.
    fired: () => [...store.allocs.values()].some((alloc) => alloc.ModifyIndex > armedAt && hasPrefix(index.keyOf(alloc), prefix)),
    rearm,
  };
}

/**
 * The wake-up test of a blocking query over `index` at `search` (`blockingRPC`): memdb's watch
 * fires on a write under the watched prefix; the query then runs again and returns when its
 * result's index passed `minIndex`, or seeks and watches again. The watch is armed at the first
 * test, which is when the query starts to wait, so a query that never waits costs nothing.
 */
export function wakeOnIndexWrite(options: {
  store: Store;
  index: AllocIndex;
  search: Uint8Array;
  resultIndex: () => bigint;
  minIndex: bigint;
}): () => boolean {
  let watch: IndexWatch | undefined;
  return () => {
    watch ??= watchAllocIndex(options.store, options.index, options.search);
    if (!watch.fired()) return false;
    if (options.resultIndex() > options.minIndex) return true;
    watch.rearm();
    return false;
  };
}
