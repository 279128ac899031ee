import { createHash } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { parseTrustedDocuments } from '../../../src/server/trusted-documents.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createAsyncQueue } from '../../helpers/async-queue.ts';
import { createGatewayApp } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/** A locked-down deployment that runs only its frontends' own documents, named by hash. */

const PAGE = 'query Page { allocations(first: 2) { edges { node { allocId } } } }';
const LIVE = 'subscription Live { allocationChanges(namespace: "default") { initial } }';
const sha = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

function codeOf(body: Record<string, unknown>): unknown {
  return asRecord(asArray(body['errors']).map(asRecord)[0]?.['extensions'])['code'];
}

describe('trusted-documents mode', () => {
  let sim: Simulator;
  let nomad: NomadClient;
  let app: App;
  let url = '';

  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'demo', timing: { schedulerMs: 5, clientMs: 5 } });
    nomad = createNomadClient({ address: sim.url });
    const trustedDocuments = parseTrustedDocuments(JSON.stringify({ [sha(PAGE)]: PAGE, [sha(LIVE)]: LIVE }));
    app = createGatewayApp(nomad, { trustedDocuments, logger: pino({ level: 'silent' }) });
    ({ url } = await app.start(0));
  });

  afterAll(async () => {
    await app.stop();
    await nomad.close();
    await sim.stop();
  });

  const post = async (body: Record<string, unknown>) =>
    asRecord(await (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json());

  it('should run a trusted document named by its hash, over POST and GET', async () => {
    const apollo = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha(PAGE) } } });
    expect(asArray(asRecord(asRecord(apollo['data'])['allocations'])['edges'])).toHaveLength(2);
    const extensions = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha(PAGE) } }));
    const get = asRecord(await (await fetch(`${url}/graphql?extensions=${extensions}`)).json());
    expect(get['errors']).toBeUndefined();
  });

  it('should refuse any other document with PERSISTED_QUERY_ONLY, and not let anyone register one', async () => {
    expect(codeOf(await post({ query: '{ __typename }' }))).toBe('PERSISTED_QUERY_ONLY');
    const other = '{ allocations(first: 500) { edges { node { allocId } } } }';
    expect(codeOf(await post({ query: other, extensions: { persistedQuery: { version: 1, sha256Hash: sha(other) } } }))).toBe('PERSISTED_QUERY_ONLY');
    expect(codeOf(await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha(other) } } }))).toBe('PERSISTED_QUERY_ONLY');
    // A trusted hash with a different text of its own is refused too.
    expect(codeOf(await post({ query: other, extensions: { persistedQuery: { version: 1, sha256Hash: sha(PAGE) } } }))).toBe('PERSISTED_QUERY_ONLY');
  });

  it('should hold WebSocket operations to the same rule', async () => {
    const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const trusted = createAsyncQueue<unknown>();
      client.subscribe({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha(LIVE) } } }, { next: trusted.push, error: trusted.push, complete: () => undefined });
      expect(asRecord(asRecord(asRecord(await trusted.next(10_000))['data'])['allocationChanges'])['initial']).toBe(true);
      const untrusted = createAsyncQueue<unknown>();
      client.subscribe({ query: LIVE.replace('Live', 'Mine') }, { next: untrusted.push, error: untrusted.push, complete: () => undefined });
      const refused = await untrusted.next(10_000);
      const errors = Array.isArray(refused) ? refused : asArray(asRecord(refused)['errors']);
      expect(asRecord(asRecord(errors[0])['extensions'])['code']).toBe('PERSISTED_QUERY_ONLY');
    } finally {
      await client.dispose();
    }
  });

  it('should refuse a manifest whose keys are not their documents\' hashes', () => {
    expect(() => parseTrustedDocuments(JSON.stringify({ [sha('{ a }')]: '{ b }' }))).toThrow(/is not the sha256 of its document/);
    expect(() => parseTrustedDocuments(JSON.stringify({ nothex: PAGE }))).toThrow(/is not a sha256 in hex/);
    expect(() => parseTrustedDocuments('[]')).toThrow(/JSON object/);
  });
});
