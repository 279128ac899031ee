/**
 * Pure helpers that turn successive answers of an allocation list into changes.
 *
 * A snapshot is the set of matching allocations keyed by ID. Whether an allocation changed is
 * decided by its `ModifyIndex` alone: Nomad bumps it on every write to the allocation, and a
 * blocking response proves nothing (it also comes back when `wait` runs out, and a list is
 * re-read whole whenever any allocation anywhere changes). Comparing whole objects would report
 * every re-decoded, structurally equal stub as a change.
 *
 * Indexes are `bigint` (Nomad's raft indexes are uint64), so values above 2^53 compare exactly.
 *
 * Works for list stubs (`AllocListStub`) and full allocations alike: anything with an `ID` and a
 * `ModifyIndex`.
 */
import type { AllocListStub } from '../nomad/types.ts';

/** What the helpers need of an allocation. */
export interface Versioned {
  readonly ID: string;
  readonly ModifyIndex: bigint;
}

/** A watch's current view: every matching allocation by ID. */
export type Snapshot<A extends Versioned = AllocListStub> = ReadonlyMap<string, A>;

/** What changed between a snapshot and a newer answer. */
export interface AllocationChanges<A extends Versioned = AllocListStub> {
  /** Allocations that are new, or whose `ModifyIndex` moved on, in the order of the answer. */
  upserts: A[];
  /** IDs in the snapshot that the answer no longer holds, sorted ascending. */
  removed: string[];
}

/** Options shared by the helpers. */
export interface DiffOptions {
  /**
   * Resynchronise after the index went backwards (a `reset` from the watch loop): the cluster
   * was restored or rebuilt, so its indexes cannot be compared with the snapshot's. An
   * allocation then counts as changed when its `ModifyIndex` merely differs, lower included, and
   * the newer answer wins. Without it, a lower `ModifyIndex` is an older copy (a stale read, a
   * replayed message) and is ignored. @default false
   */
  resync?: boolean;
}

/** Whether `candidate` should replace `held` (absent counts as replaceable). */
function supersedes(held: Versioned | undefined, candidate: Versioned, resync: boolean): boolean {
  if (held === undefined) return true;
  return resync ? candidate.ModifyIndex !== held.ModifyIndex : candidate.ModifyIndex > held.ModifyIndex;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares a snapshot with the full, newer answer of the same query.
 *
 * - `upserts`: allocations of `next` that the snapshot lacks or holds with a lower `ModifyIndex`
 *   (with `resync`: a different one), in the order of `next`. An allocation whose `ModifyIndex`
 *   did not move is left out even when `next` holds a new object for it.
 * - `removed`: IDs of the snapshot missing from `next`, sorted, so the result is deterministic.
 *
 * An ID that appears twice in `next` (a list paged while it changed) counts once, with its highest
 * `ModifyIndex`, at the place of its first appearance.
 */
export function diffAllocations<A extends Versioned>(
  previous: Snapshot<A>,
  next: readonly A[],
  options: DiffOptions = {},
): AllocationChanges<A> {
  const latest = new Map<string, A>();
  for (const alloc of next) {
    const seen = latest.get(alloc.ID);
    if (seen === undefined || alloc.ModifyIndex > seen.ModifyIndex) latest.set(alloc.ID, alloc);
  }
  const resync = options.resync ?? false;
  const upserts = [...latest.values()].filter((alloc) => supersedes(previous.get(alloc.ID), alloc, resync));
  const removed = [...previous.keys()].filter((id) => !latest.has(id)).sort(byCodeUnits);
  return { upserts, removed };
}

/**
 * The snapshot after `changes`, as a new Map (the argument is not modified): upserts replace what
 * the snapshot holds only when they supersede it (a higher `ModifyIndex`; with `resync`, a
 * different one), then removed IDs are dropped. Applying the same changes twice gives the same
 * snapshot.
 */
export function applyChanges<A extends Versioned>(
  snapshot: Snapshot<A>,
  changes: AllocationChanges<A>,
  options: DiffOptions = {},
): Map<string, A> {
  const resync = options.resync ?? false;
  const result = new Map(snapshot);
  for (const alloc of changes.upserts) {
    if (supersedes(result.get(alloc.ID), alloc, resync)) result.set(alloc.ID, alloc);
  }
  for (const id of changes.removed) result.delete(id);
  return result;
}

/** Upserts split by what they mean to a subscriber. */
export interface ClassifiedUpserts<A extends Versioned = AllocListStub> {
  /** Allocations whose ID the snapshot does not hold. */
  added: A[];
  /** Allocations the snapshot holds with a lower `ModifyIndex` (with `resync`: a different one). */
  updated: A[];
}

/**
 * Splits upserts into `added` and `updated` against the snapshot they are about to be applied
 * to, keeping their order. An upsert whose `ModifyIndex` is not higher than the snapshot's copy is
 * dropped (with `resync`: one whose `ModifyIndex` is equal), so a replayed or duplicated batch
 * classifies to nothing. Call it before {@link applyChanges}.
 */
export function classify<A extends Versioned>(
  snapshot: Snapshot<A>,
  upserts: readonly A[],
  options: DiffOptions = {},
): ClassifiedUpserts<A> {
  const resync = options.resync ?? false;
  const added: A[] = [];
  const updated: A[] = [];
  // Later entries see earlier ones, so one batch holding the same ID twice stays consistent.
  const batch = new Map<string, A>();
  for (const alloc of upserts) {
    const held = batch.get(alloc.ID) ?? snapshot.get(alloc.ID);
    if (!supersedes(held, alloc, resync)) continue;
    (held === undefined ? added : updated).push(alloc);
    batch.set(alloc.ID, alloc);
  }
  return { added, updated };
}
