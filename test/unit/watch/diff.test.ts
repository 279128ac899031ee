import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeAllocListStubs } from '../../../src/nomad/decode.ts';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import type { AllocListStub } from '../../../src/nomad/types.ts';
import { applyChanges, classify, diffAllocations } from '../../../src/watch/diff.ts';

const captured = decodeAllocListStubs(
  parseNomadJson(readFileSync(new URL('../../fixtures/nomad-allocations-list.json', import.meta.url), 'utf8')),
);
function first(allocs: readonly AllocListStub[]): AllocListStub {
  const head = allocs[0];
  if (head === undefined) throw new Error('the list fixture is empty');
  return head;
}
const template = first(captured);

/** A stub captured from Nomad with the given id and ModifyIndex (and any other overrides). */
function stub(id: string, modifyIndex: bigint, overrides: Partial<AllocListStub> = {}): AllocListStub {
  return { ...template, ...overrides, ID: `${id}-0000-0000-0000-000000000000`.slice(0, 36), ModifyIndex: modifyIndex };
}

function snapshotOf(allocs: readonly AllocListStub[]): Map<string, AllocListStub> {
  return new Map(allocs.map((a) => [a.ID, a]));
}

const ids = (allocs: readonly AllocListStub[]): string[] => allocs.map((a) => a.ID);

/** Just above 2^53, where Number can no longer tell neighbours apart. */
const BIG = 2n ** 53n;

describe('diffAllocations', () => {
  it('should report every allocation of the first answer as an upsert, in the order of the answer', () => {
    const next = [stub('cccccccc', 5n), stub('aaaaaaaa', 7n), stub('bbbbbbbb', 6n)];
    const changes = diffAllocations(new Map(), next);
    expect(ids(changes.upserts)).toEqual(ids(next));
    expect(changes.removed).toEqual([]);
  });

  it('should report an allocation whose ModifyIndex grew, and leave out the ones that did not move', () => {
    const previous = snapshotOf([stub('aaaaaaaa', 5n), stub('bbbbbbbb', 6n)]);
    const grown = stub('bbbbbbbb', 9n, { ClientStatus: 'failed' });
    const changes = diffAllocations(previous, [stub('aaaaaaaa', 5n), grown]);
    expect(changes.upserts).toEqual([grown]);
    expect(changes.removed).toEqual([]);
  });

  it('should not report an allocation whose ModifyIndex did not change, even as a new object with other fields', () => {
    const held = stub('aaaaaaaa', 5n);
    const reDecoded = { ...held, ClientDescription: 'a different text for the same index' };
    expect(reDecoded).not.toBe(held);
    expect(diffAllocations(snapshotOf([held]), [reDecoded])).toEqual({ upserts: [], removed: [] });
  });

  it('should ignore an older copy of an allocation, whose ModifyIndex went down', () => {
    const previous = snapshotOf([stub('aaaaaaaa', 9n)]);
    expect(diffAllocations(previous, [stub('aaaaaaaa', 4n)])).toEqual({ upserts: [], removed: [] });
  });

  it('should report the ids no longer present as removed, sorted', () => {
    const previous = snapshotOf([stub('dddddddd', 1n), stub('aaaaaaaa', 2n), stub('cccccccc', 3n), stub('bbbbbbbb', 4n)]);
    const changes = diffAllocations(previous, [stub('bbbbbbbb', 4n)]);
    expect(changes.upserts).toEqual([]);
    expect(changes.removed).toEqual([stub('aaaaaaaa', 0n).ID, stub('cccccccc', 0n).ID, stub('dddddddd', 0n).ID]);
  });

  it('should tell ModifyIndex values apart above 2^53, where Number would round them together', () => {
    expect(Number(BIG + 1n)).toBe(Number(BIG));
    const previous = snapshotOf([stub('aaaaaaaa', BIG), stub('bbbbbbbb', BIG + 2n)]);
    const next = [stub('aaaaaaaa', BIG + 1n), stub('bbbbbbbb', BIG + 2n), stub('cccccccc', 2n ** 64n - 1n)];
    const changes = diffAllocations(previous, next);
    expect(ids(changes.upserts)).toEqual([next[0]?.ID, next[2]?.ID]);
    expect(changes.upserts[0]?.ModifyIndex).toBe(BIG + 1n);
  });

  it('should count an id that appears twice in an answer once, with its highest ModifyIndex, where it first appeared', () => {
    const next = [stub('bbbbbbbb', 3n), stub('aaaaaaaa', 5n), stub('bbbbbbbb', 8n)];
    const changes = diffAllocations(new Map(), next);
    expect(ids(changes.upserts)).toEqual([next[0]?.ID, next[1]?.ID]);
    expect(changes.upserts[0]?.ModifyIndex).toBe(8n);
  });

  it('should report a lower ModifyIndex as a change when resynchronising after a reset', () => {
    const previous = snapshotOf([stub('aaaaaaaa', 900n), stub('bbbbbbbb', 950n), stub('cccccccc', 990n)]);
    const rebuilt = [stub('aaaaaaaa', 12n), stub('bbbbbbbb', 950n)];
    const changes = diffAllocations(previous, rebuilt, { resync: true });
    expect(changes.upserts).toEqual([rebuilt[0]]);
    expect(changes.removed).toEqual([stub('cccccccc', 0n).ID]);
  });

  it('should leave the previous snapshot untouched', () => {
    const previous = snapshotOf([stub('aaaaaaaa', 1n)]);
    diffAllocations(previous, [stub('bbbbbbbb', 2n)]);
    expect([...previous.keys()]).toEqual([stub('aaaaaaaa', 0n).ID]);
  });
});

describe('applyChanges', () => {
  it('should return a new map with the upserts set and the removed ids dropped, leaving its argument alone', () => {
    const before = snapshotOf([stub('aaaaaaaa', 1n), stub('bbbbbbbb', 2n)]);
    const changed = stub('aaaaaaaa', 3n);
    const added = stub('cccccccc', 4n);
    const after = applyChanges(before, { upserts: [changed, added], removed: [stub('bbbbbbbb', 0n).ID] });
    expect([...after.values()]).toEqual([changed, added]);
    expect(before.get(changed.ID)?.ModifyIndex).toBe(1n);
    expect(before.size).toBe(2);
  });

  it('should give the same snapshot when the same changes are applied twice', () => {
    const before = snapshotOf([stub('aaaaaaaa', 1n), stub('bbbbbbbb', 2n)]);
    const changes = { upserts: [stub('aaaaaaaa', 3n), stub('cccccccc', 4n)], removed: [stub('bbbbbbbb', 0n).ID] };
    const once = applyChanges(before, changes);
    expect(applyChanges(once, changes)).toEqual(once);
  });

  it('should not let an older upsert overwrite a newer copy, unless resynchronising', () => {
    const newer = stub('aaaaaaaa', BIG + 1n);
    const older = stub('aaaaaaaa', BIG);
    expect(applyChanges(snapshotOf([newer]), { upserts: [older], removed: [] }).get(newer.ID)).toBe(newer);
    expect(applyChanges(snapshotOf([newer]), { upserts: [older], removed: [] }, { resync: true }).get(newer.ID)).toBe(older);
  });

  it('should turn the previous snapshot into the snapshot of the answer when applied to its diff', () => {
    const previous = snapshotOf([stub('aaaaaaaa', 1n), stub('bbbbbbbb', 2n), stub('cccccccc', 3n)]);
    const next = [stub('bbbbbbbb', 7n), stub('cccccccc', 3n), stub('dddddddd', 8n)];
    expect(applyChanges(previous, diffAllocations(previous, next))).toEqual(snapshotOf(next));
    const rebuilt = [stub('cccccccc', 1n)];
    expect(applyChanges(previous, diffAllocations(previous, rebuilt, { resync: true }), { resync: true })).toEqual(snapshotOf(rebuilt));
  });
});

describe('classify', () => {
  it('should split upserts into added (unknown ids) and updated (known with a lower ModifyIndex), keeping their order', () => {
    const snapshot = snapshotOf([stub('aaaaaaaa', 1n), stub('bbbbbbbb', 2n)]);
    const upserts = [stub('cccccccc', 5n), stub('bbbbbbbb', 6n), stub('dddddddd', 7n), stub('aaaaaaaa', 8n)];
    const { added, updated } = classify(snapshot, upserts);
    expect(ids(added)).toEqual([upserts[0]?.ID, upserts[2]?.ID]);
    expect(ids(updated)).toEqual([upserts[1]?.ID, upserts[3]?.ID]);
  });

  it('should drop upserts whose ModifyIndex is not higher than the snapshot, so a replayed batch classifies to nothing', () => {
    const before = snapshotOf([stub('aaaaaaaa', 1n)]);
    const changes = { upserts: [stub('aaaaaaaa', 4n), stub('bbbbbbbb', 5n)], removed: [] };
    const after = applyChanges(before, changes);
    expect(classify(after, changes.upserts)).toEqual({ added: [], updated: [] });
    expect(classify(after, [stub('aaaaaaaa', 3n)])).toEqual({ added: [], updated: [] });
  });

  it('should compare ModifyIndex values above 2^53 exactly', () => {
    const snapshot = snapshotOf([stub('aaaaaaaa', BIG + 1n)]);
    expect(classify(snapshot, [stub('aaaaaaaa', BIG + 1n)])).toEqual({ added: [], updated: [] });
    expect(ids(classify(snapshot, [stub('aaaaaaaa', BIG + 2n)]).updated)).toEqual([stub('aaaaaaaa', 0n).ID]);
  });

  it('should let later entries of one batch see earlier ones', () => {
    const first = stub('aaaaaaaa', 4n);
    const second = stub('aaaaaaaa', 5n);
    const stale = stub('aaaaaaaa', 3n);
    expect(classify(new Map(), [first, stale, second])).toEqual({ added: [first], updated: [second] });
  });

  it('should count a known allocation with a different ModifyIndex as updated when resynchronising', () => {
    const snapshot = snapshotOf([stub('aaaaaaaa', 900n), stub('bbbbbbbb', 950n)]);
    const rebuilt = [stub('aaaaaaaa', 12n), stub('bbbbbbbb', 950n), stub('cccccccc', 13n)];
    const { added, updated } = classify(snapshot, rebuilt, { resync: true });
    expect(added).toEqual([rebuilt[2]]);
    expect(updated).toEqual([rebuilt[0]]);
  });
});
