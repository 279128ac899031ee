import { createHash } from 'node:crypto';
import { useAPQ, type APQStore } from '@graphql-yoga/plugin-apq';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/**
 * Bounds of the automatic-persisted-query store. It holds query texts (never variables or
 * results), shared by every caller as Apollo's protocol intends: a hash names a document, not data.
 */
export const PERSISTED_QUERY_LIMITS = {
  /** Total characters of stored query texts; the least recently used are dropped past it. */
  maxTotalChars: 8 * 1024 * 1024,
  /** A longer text still runs, but is not stored: its hash-only requests keep getting PersistedQueryNotFound. */
  maxQueryChars: 64 * 1024,
  /** Entries unused this long are dropped. */
  ttlMs: 24 * 60 * 60 * 1000,
} as const;

/** An in-memory LRU bounded by the size of what it holds, not only by its count. */
export function createPersistedQueryStore(limits: typeof PERSISTED_QUERY_LIMITS = PERSISTED_QUERY_LIMITS): APQStore {
  const cache = new LRUCache<string, string>({
    maxSize: limits.maxTotalChars,
    maxEntrySize: limits.maxQueryChars,
    sizeCalculation: (query) => Math.max(1, query.length),
    ttl: limits.ttlMs,
    updateAgeOnGet: true,
  });
  return {
    get: (hash) => cache.get(hash),
    set: (hash, query) => {
      // lru-cache refuses (does not store) an entry above maxEntrySize.
      cache.set(hash, query);
    },
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Apollo's automatic persisted queries on `/graphql`, over GET and POST: a hash-only request for
 * an unknown hash gets `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND), which makes
 * Apollo's PersistedQueryLink resend it with the text; the text is then stored under its hash, and
 * a text whose SHA-256 is not the hash sent with it is refused (PERSISTED_QUERY_MISMATCH).
 */
export function usePersistedQueries(store: APQStore = createPersistedQueryStore()): Plugin {
  return useAPQ({ store, hash: sha256Hex });
}
