import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  Environment,
  Network,
  RecordSource,
  Store,
  createOperationDescriptor,
  fetchQuery,
  getSelector,
  type ConcreteRequest,
  type GraphQLResponse,
  type ReaderFragment,
  type Variables,
} from 'relay-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asArray, asRecord } from '../helpers/http.ts';
import { DEMO_STACK, bool, nullableStr, simulatorAllocations, str } from './support.ts';

/**
 * relay-compiler 21 over our schema.graphql, then relay-runtime 21 against a real gateway: a tiny
 * Relay project (a `@refetchable` fragment on Allocation and an `allocations` `@connection`) is
 * written to a temp dir and compiled once; its generated TypeScript artifacts run through
 * Environment + Network with the platform fetch.
 */

const require = createRequire(import.meta.url);
const SCHEMA_PATH = resolve(import.meta.dirname, '../../schema.graphql');

/** The project's only source file. The compiler finds the `graphql` tags; it is never run or typechecked. */
const SOURCE = `import { graphql } from 'relay-runtime';

export const allocationFragment = graphql\`
  fragment AllocationCard_allocation on Allocation @refetchable(queryName: "AllocationRefetchQuery") {
    allocId
    name
    namespace
    clientStatus
    modifyIndex
    taskStates { name restarts }
    job { id jobId namespace }
  }
\`;

export const listQuery = graphql\`
  query AllocationCardListQuery($namespace: String, $first: Int!, $after: String) {
    allocations(namespace: $namespace, first: $first, after: $after) @connection(key: "AllocationCardList_allocations") {
      edges { node { id ...AllocationCard_allocation } }
    }
  }
\`;
`;

const RELAY_CONFIG = {
  src: './src',
  schema: SCHEMA_PATH,
  language: 'typescript',
  artifactDirectory: './__generated__',
  eagerEsModules: true,
  useImportTypeSyntax: true,
  noSourceControl: true,
  customScalarTypes: { Uint64: 'string', DateTime: 'string', Duration: 'string', JSON: 'unknown' },
};

interface CompilerRun {
  code: number | null;
  output: string;
  ms: number;
}

function relayBinary(): string {
  // The npm package's main module is the path of the native binary for this platform (or null).
  const bin: unknown = require('relay-compiler');
  if (typeof bin !== 'string') throw new Error(`relay-compiler has no binary for ${process.platform}-${process.arch}`);
  return bin;
}

function runCompiler(cwd: string): Promise<CompilerRun> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(relayBinary(), ['relay.config.json'], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      done({ code, output: `${stdout}${stderr}`, ms: performance.now() - started });
    });
  });
}

async function importArtifact(dir: string, name: string): Promise<unknown> {
  const module: unknown = await import(pathToFileURL(join(dir, '__generated__', `${name}.graphql.ts`)).href);
  return asRecord(module)['default'];
}

function isConcreteRequest(value: unknown): value is ConcreteRequest {
  return asRecord(value)['kind'] === 'Request';
}

function isReaderFragment(value: unknown): value is ReaderFragment {
  return asRecord(value)['kind'] === 'Fragment';
}

interface SentOperation {
  name: string;
  text: string | null;
  variables: Variables;
}

/** A Relay environment whose network POSTs each operation's text to the gateway with the platform fetch, recording what it sent. */
function createEnvironment(url: string): { environment: Environment; sent: SentOperation[] } {
  const sent: SentOperation[] = [];
  const network = Network.create(async (params, variables): Promise<GraphQLResponse> => {
    sent.push({ name: params.name, text: params.text, variables });
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: params.text, variables }),
    });
    const body = asRecord(await response.json());
    if (body['errors'] !== undefined) throw new Error(`${params.name}: ${JSON.stringify(body['errors'])}`);
    return { data: asRecord(body['data']) };
  });
  return { environment: new Environment({ network, store: new Store(new RecordSource()) }), sent };
}

interface FragmentData {
  allocId: string;
  name: string;
  namespace: string;
  clientStatus: string;
  modifyIndex: string;
  taskStates: { name: string; restarts: number }[];
  job: { id: string; jobId: string; namespace: string };
}

function decodeFragment(value: unknown): FragmentData {
  const data = asRecord(value);
  const job = asRecord(data['job']);
  return {
    allocId: str(data['allocId']),
    name: str(data['name']),
    namespace: str(data['namespace']),
    clientStatus: str(data['clientStatus']),
    modifyIndex: str(data['modifyIndex']),
    taskStates: asArray(data['taskStates']).map((entry) => {
      const state = asRecord(entry);
      const restarts = state['restarts'];
      if (typeof restarts !== 'number') throw new Error(`restarts is not a number: ${JSON.stringify(restarts)}`);
      return { name: str(state['name']), restarts };
    }),
    job: { id: str(job['id']), jobId: str(job['jobId']), namespace: str(job['namespace']) },
  };
}

/** The fragment's data for a fragment reference, read from the environment's store. */
function readFragment(environment: Environment, fragment: ReaderFragment, reference: unknown): FragmentData {
  const selector = getSelector(fragment, reference);
  if (selector.kind !== 'SingularReaderSelector') throw new Error(`unexpected selector ${selector.kind}`);
  const snapshot = environment.lookup(selector);
  expect(snapshot.isMissingData).toBe(false);
  return decodeFragment(snapshot.data);
}

describe('relay-compiler and relay-runtime', () => {
  const stack = useGatewayStack(DEMO_STACK);
  let dir = '';
  let run: CompilerRun | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nomad-gw-relay-'));
    await mkdir(join(dir, 'src'));
    await mkdir(join(dir, '__generated__'));
    await writeFile(join(dir, 'relay.config.json'), JSON.stringify(RELAY_CONFIG, null, 2));
    await writeFile(join(dir, 'src', 'AllocationCard.ts'), SOURCE);
    run = await runCompiler(dir);
  }, 60_000);

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  /** What the simulator stores for an allocation, in the fragment's shape. */
  function expectedFragment(allocId: string, jobGlobalId: string): FragmentData {
    const stored = stack().sim.store.allocs.get(allocId);
    if (stored === undefined) throw new Error(`the simulator has no allocation ${allocId}`);
    return {
      allocId: stored.ID,
      name: stored.Name,
      namespace: stored.Namespace,
      clientStatus: stored.ClientStatus.toUpperCase(),
      modifyIndex: String(stored.ModifyIndex),
      taskStates: Object.entries(stored.TaskStates ?? {})
        .map(([name, state]) => ({ name, restarts: state.Restarts }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      job: { id: jobGlobalId, jobId: stored.JobID, namespace: stored.Namespace },
    };
  }

  it('should compile a @refetchable fragment and an allocations @connection against schema.graphql', async () => {
    expect(run?.code, run?.output).toBe(0);
    expect((await readdir(join(dir, '__generated__'))).sort()).toEqual([
      'AllocationCardListQuery.graphql.ts',
      'AllocationCard_allocation.graphql.ts',
      'AllocationRefetchQuery.graphql.ts',
    ]);
    const refetch = await importArtifact(dir, 'AllocationRefetchQuery');
    if (!isConcreteRequest(refetch)) throw new Error('AllocationRefetchQuery is not a query artifact');
    expect(refetch.params.operationKind).toBe('query');
    expect(refetch.params.text).toMatch(/^query AllocationRefetchQuery\(\s*\$id: ID!\s*\) \{\s*node\(id: \$id\) \{/);
    const fragment = await importArtifact(dir, 'AllocationCard_allocation');
    if (!isReaderFragment(fragment)) throw new Error('AllocationCard_allocation is not a fragment artifact');
    // The fragment knows its refetch query: the artifact the compiler generated for it.
    expect(asRecord(asRecord(fragment.metadata)['refetch'])['operation']).toBe(refetch);
  });

  it('should page through a namespace with the @connection query, the store merging the pages in Nomad’s order', async () => {
    const list = await importArtifact(dir, 'AllocationCardListQuery');
    const fragment = await importArtifact(dir, 'AllocationCard_allocation');
    if (!isConcreteRequest(list) || !isReaderFragment(fragment)) throw new Error('artifacts missing');
    const { environment, sent } = createEnvironment(stack().url);
    const first = { namespace: 'staging', first: 5 };
    const operation = createOperationDescriptor(list, first);
    const retained = environment.retain(operation);
    try {
      await fetchQuery(environment, list, first).toPromise();
      const firstPage = asRecord(asRecord(environment.lookup(operation.fragment).data)['allocations']);
      const endCursor = nullableStr(asRecord(firstPage['pageInfo'])['endCursor']);
      expect(bool(asRecord(firstPage['pageInfo'])['hasNextPage'])).toBe(true);
      await fetchQuery(environment, list, { ...first, after: endCursor }).toPromise();

      // The connection record now holds both pages, read through the first page's operation.
      const merged = asArray(asRecord(asRecord(environment.lookup(operation.fragment).data)['allocations'])['edges']);
      const cards = merged.map((edge) => readFragment(environment, fragment, asRecord(edge)['node']));
      const staging = await simulatorAllocations(stack().sim, 'staging');
      expect(cards.map((card) => card.allocId)).toEqual(staging.slice(0, 10).map((alloc) => alloc.allocId));
      for (const card of cards) expect(card).toEqual(expectedFragment(card.allocId, card.job.id));
      expect(sent.map((op) => [op.name, op.text])).toEqual([
        ['AllocationCardListQuery', list.params.text],
        ['AllocationCardListQuery', list.params.text],
      ]);
    } finally {
      retained.dispose();
    }
  });

  it('should refetch an allocation by its global id with the generated AllocationRefetchQuery', async () => {
    const refetch = await importArtifact(dir, 'AllocationRefetchQuery');
    const fragment = await importArtifact(dir, 'AllocationCard_allocation');
    if (!isConcreteRequest(refetch) || !isReaderFragment(fragment)) throw new Error('artifacts missing');
    // A global id as the gateway hands it out: a prod allocation of `payments`.
    const listed = await stack().graphql(
      '{ allocations(namespace: "prod", where: { jobId: "payments" }, first: 1) { edges { node { id allocId job { id } } } } }',
    );
    const edge = asRecord(asArray(asRecord(asRecord(listed.data)['allocations'])['edges'])[0]);
    const node = asRecord(edge['node']);
    const id = str(node['id']);

    const { environment, sent } = createEnvironment(stack().url);
    const operation = createOperationDescriptor(refetch, { id });
    const retained = environment.retain(operation);
    try {
      await fetchQuery(environment, refetch, { id }).toPromise();
      expect(sent).toEqual([{ name: 'AllocationRefetchQuery', text: refetch.params.text, variables: { id } }]);
      const reference = asRecord(environment.lookup(operation.fragment).data)['node'];
      const card = readFragment(environment, fragment, reference);
      expect(card).toEqual(expectedFragment(str(node['allocId']), str(asRecord(node['job'])['id'])));
      expect(card.namespace).toBe('prod');
    } finally {
      retained.dispose();
    }
  });
});
