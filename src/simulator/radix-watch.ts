/**
 * When a blocking query over a memdb index wakes up. A prefix seek (`txn.Get`) hands the query the
 * mutation channel of one node of the index's radix tree (go-immutable-radix
 * `Iterator.SeekPrefixWatch`), and a write closes the channel of every node it copies: each node
 * on the path to its key, plus a node it has to split. Which node a seek watches depends on the
 * keys already in the index, so the set of writes that wake a query does too:
 *
 * - keys extend `search` (a job with allocations): writes to keys starting with `search` cut to
 *   one byte past the deepest branching point above it, which is `search` itself unless the tree
 *   branches no lower (e.g. jobs `web` and `wex` in one namespace wake each other);
 * - no key extends `search` (an unknown job or node): writes below the closest existing node,
 *   which on a small tree can be every write to the index.
 *
 * Keys are compared as bytes, as memdb builds them.
 */

/** Length of the longest common prefix of two byte strings. */
function sharedLength(a: Uint8Array, b: Uint8Array): number {
  const limit = Math.min(a.length, b.length);
  let n = 0;
  while (n < limit && a[n] === b[n]) n++;
  return n;
}

export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && sharedLength(key, prefix) === prefix.length;
}

/**
 * The prefix a write's key must have to wake a query that seeked `search` over `keys`: an empty
 * prefix means any write to the index wakes it.
 */
export function watchedKeyPrefix(keys: Iterable<Uint8Array>, search: Uint8Array): Uint8Array {
  if (search.length === 0) return search;
  // Per depth d along `search`: how the keys sharing exactly d bytes with it continue there
  // (their byte at d, or -1 where the key ends). Some key shares more than d bytes iff the
  // longest shared prefix is longer than d.
  const endingHere: Set<number>[] = Array.from({ length: search.length }, () => new Set<number>());
  let longest = 0;
  for (const key of keys) {
    const shared = sharedLength(key, search);
    longest = Math.max(longest, shared);
    if (shared < search.length) endingHere[shared]?.add(shared < key.length ? (key[shared] ?? -1) : -1);
  }
  const sharesMore = (d: number): boolean => longest > d;
  // A tree node sits at depth d (d < |search|) when it holds a key ending there, or keys branch there.
  const isNode = (d: number): boolean => {
    if (d === 0) return true;
    const here = endingHere[d] ?? new Set<number>();
    return here.has(-1) || here.size + (sharesMore(d) ? 1 : 0) >= 2;
  };
  const deepestNodeBelow = (depth: number): number => {
    for (let d = depth - 1; d > 0; d--) if (isNode(d)) return d;
    return 0;
  };
  const branch = deepestNodeBelow(search.length);
  // The seek goes on past `branch` along `search`: it watches the child on that edge.
  if (longest > branch) return search.subarray(0, branch + 1);
  // It stops at `branch` itself: writes through that node's own edge wake it.
  if (branch === 0) return search.subarray(0, 0);
  return search.subarray(0, deepestNodeBelow(branch) + 1);
}
