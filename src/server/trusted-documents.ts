import { createHash } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, gatewayError } from '../error-codes.ts';

/**
 * Trusted documents: a locked-down deployment runs only the operations its own frontends were
 * built with. The manifest maps each document's SHA-256 (hex) to its text (what persisted-query
 * tooling emits); a request names one by `extensions.persistedQuery.sha256Hash`, as Apollo's
 * PersistedQueryLink sends it (over GET and POST, and over WebSocket in the subscribe payload's
 * extensions), and a request with a query text of its own is refused.
 */
export type TrustedDocuments = ReadonlyMap<string, string>;

const SHA256 = /^[0-9a-f]{64}$/;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Reads a manifest `{ "<sha256>": "<document>" }`; throws when a key is not its document's hash. */
export function parseTrustedDocuments(json: string): TrustedDocuments {
  const parsed: unknown = JSON.parse(json);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the manifest must be a JSON object of sha256 → document');
  const documents = new Map<string, string>();
  for (const [hash, text] of Object.entries(parsed)) {
    if (!SHA256.test(hash)) throw new Error(`"${hash}" is not a sha256 in hex`);
    if (typeof text !== 'string') throw new Error(`the document of ${hash} is not a string`);
    if (sha256(text) !== hash) throw new Error(`${hash} is not the sha256 of its document`);
    documents.set(hash, text);
  }
  return documents;
}

/** What a request asked for: a query text, extensions, a document id. */
export interface RequestedDocument {
  query?: string | null;
  extensions?: Record<string, unknown> | null;
}

function hashOf(params: RequestedDocument): string | undefined {
  const persisted = params.extensions?.['persistedQuery'];
  if (persisted !== null && typeof persisted === 'object' && 'sha256Hash' in persisted && typeof persisted.sha256Hash === 'string') return persisted.sha256Hash;
  return undefined;
}

/** The trusted text a request names; throws PERSISTED_QUERY_ONLY for anything else. */
export function trustedQuery(documents: TrustedDocuments, params: RequestedDocument): string {
  const hash = hashOf(params);
  const text = hash === undefined ? undefined : documents.get(hash);
  // An empty query is no query: graphql-ws clients send one with a hash-only subscribe.
  if (text === undefined || (params.query != null && params.query !== '' && params.query !== text)) {
    throw gatewayError(
      ErrorCode.PERSISTED_QUERY_ONLY,
      'This gateway runs only its trusted documents: name one by its sha256 (extensions.persistedQuery.sha256Hash), without a query text of your own',
      { http: { status: 400 } },
    );
  }
  return text;
}

/** The HTTP side (GET, POST, SSE) of trusted-documents mode. */
export function useTrustedDocuments(documents: TrustedDocuments): Plugin {
  return {
    onParams({ params, setParams }) {
      setParams({ ...params, query: trustedQuery(documents, params as RequestedDocument) });
    },
  };
}
