import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import * as typescriptOperationsPlugin from '@graphql-codegen/typescript-operations';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGatewayStack } from '../helpers/gateway.ts';
import { asArray, asRecord } from '../helpers/http.ts';
import { DEMO_STACK, str } from './support.ts';

/**
 * GraphQL Code Generator 6 over schema.graphql and a few operations, with the scalar map our
 * users are told to use, then the native tsc (TypeScript 7) over the output, a usage file and the
 * gateway's real answers to those operations typed as the generated result types.
 *
 * typescript-operations 6 re-declares the enums and input types an operation uses, so with the
 * `typescript` plugin in the same file tsc fails with TS2300 (Duplicate identifier 'ClientStatus',
 * 'StopAllocationInput'). Its documented split is used instead: `typescript` writes
 * schema-types.ts, `typescript-operations` writes operations.ts importing it
 * (`importSchemaTypesFrom`).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

const SCALARS = {
  Uint64: { input: 'string', output: 'string' },
  DateTime: { input: 'string', output: 'string' },
  Duration: { input: 'string', output: 'string' },
  JSON: { input: 'unknown', output: 'unknown' },
};

/** `enumsAsTypes` makes enums string-literal unions, which the gateway's JSON answers (typed below) can be checked against. */
const CONFIG = { scalars: SCALARS, strictScalars: true, enumsAsTypes: true };

const OPERATIONS = /* GraphQL */ `
  query AllocationsPage($namespace: String, $first: Int, $after: String) {
    allocations(namespace: $namespace, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          allocId
          namespace
          clientStatus
          jobVersion
          modifyIndex
          createTime
          taskStates {
            name
            restarts
            startedAt
            events { type time killTimeout details }
          }
          job { id jobId namespace version meta }
        }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }

  query NodeById($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Allocation { allocId modifyIndex }
      ... on Job { jobId namespace version jobModifyIndex }
    }
  }

  mutation StopAllocation($input: StopAllocationInput!) {
    stopAllocation(input: $input) {
      evalId
      index
      allocation { id desiredStatus desiredTransition { migrate } }
    }
  }
`;

/** Uses the generated types the way client code does; the `@ts-expect-error` lines must stay errors. */
const USAGE = `import type { AllocationsPageQuery, AllocationsPageQueryVariables, NodeByIdQuery, StopAllocationMutation, StopAllocationMutationVariables } from './operations';
import type { AllocationConnection, ClientStatus, Scalars } from './schema-types';

export function totalRestarts(page: AllocationsPageQuery): number {
  return page.allocations.edges.reduce((sum, edge) => sum + edge.node.taskStates.reduce((n, task) => n + task.restarts, 0), 0);
}

export function newestIndex(page: AllocationsPageQuery): bigint {
  return page.allocations.edges.reduce((max, edge) => (BigInt(edge.node.modifyIndex) > max ? BigInt(edge.node.modifyIndex) : max), 0n);
}

export function running(page: AllocationsPageQuery): string[] {
  const status: ClientStatus = 'RUNNING';
  return page.allocations.edges.filter((edge) => edge.node.clientStatus === status).map((edge) => edge.node.allocId);
}

export function describeNode(result: NodeByIdQuery): string {
  const node = result.node;
  if (node === null) return 'gone';
  switch (node.__typename) {
    case 'Allocation':
      return node.allocId + '@' + node.modifyIndex;
    case 'Job':
      return node.namespace + '/' + node.jobId + ' v' + String(node.version + 1);
    default:
      return node.id;
  }
}

export const nextPage: AllocationsPageQueryVariables = { namespace: '*', first: 25, after: null };
export const stopInput: StopAllocationMutationVariables = { input: { id: 'QWxsb2NhdGlvbjp4', noShutdownDelay: true } };
export function stopIndex(result: StopAllocationMutation): string {
  return result.stopAllocation.index;
}
export function pageInfoOf(connection: AllocationConnection): boolean {
  return connection.pageInfo.hasNextPage;
}
export const index: Scalars['Uint64']['output'] = '18446744073709551615';

export function mistakes(page: AllocationsPageQuery, stop: StopAllocationMutation): void {
  const first = page.allocations.edges[0];
  if (first === undefined) return;
  // @ts-expect-error restarts is an Int: a number
  const restarts: string = first.node.taskStates[0]?.restarts ?? 0;
  // @ts-expect-error a raft index is a Uint64: a string of digits
  const modifyIndex: number = first.node.modifyIndex;
  // @ts-expect-error JSON is unknown until narrowed
  const details: string = first.node.taskStates[0]?.events[0]?.details;
  // @ts-expect-error the job may be null
  const jobVersion: number = first.node.job.version;
  // @ts-expect-error index is a Uint64
  const stopIndexNumber: number = stop.stopAllocation.index;
  void [restarts, modifyIndex, details, jobVersion, stopIndexNumber];
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    lib: ['es2023'],
    module: 'esnext',
    moduleResolution: 'bundler',
    types: [],
    strict: true,
    noEmit: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
  },
  files: ['schema-types.ts', 'operations.ts', 'usage.ts', 'live.ts'],
};

function runTsc(project: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    execFile(TSC, ['-p', project], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      done({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('GraphQL Code Generator typescript + typescript-operations', () => {
  const stack = useGatewayStack(DEMO_STACK);
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nomad-gw-codegen-'));
  });

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  async function generate(): Promise<{ schemaTypes: string; operations: string }> {
    const schema = parse(await readFile(join(ROOT, 'schema.graphql'), 'utf8'));
    const documents = [{ location: 'operations.graphql', document: parse(OPERATIONS) }];
    const schemaTypes = await codegen({
      filename: 'schema-types.ts',
      schema,
      documents: [],
      config: CONFIG,
      plugins: [{ typescript: {} }],
      pluginMap: { typescript: typescriptPlugin },
    });
    const operations = await codegen({
      filename: 'operations.ts',
      schema,
      documents,
      config: { ...CONFIG, importSchemaTypesFrom: './schema-types.ts' },
      plugins: [{ 'typescript-operations': {} }],
      pluginMap: { 'typescript-operations': typescriptOperationsPlugin },
    });
    return { schemaTypes, operations };
  }

  /** The gateway's answers to the three operations, as TypeScript source typed with the generated result types. */
  async function liveAnswers(): Promise<string> {
    const call = async (operationName: string, variables: Record<string, unknown>): Promise<unknown> => {
      const response = await fetch(`${stack().url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query: OPERATIONS, operationName, variables }),
      });
      const body = asRecord(await response.json());
      expect(body['errors'], JSON.stringify(body['errors'])).toBeUndefined();
      return body['data'];
    };
    const page = await call('AllocationsPage', { namespace: 'prod', first: 3 });
    const firstNode = asRecord(asRecord(asArray(asRecord(asRecord(page)['allocations'])['edges'])[0])['node']);
    const allocationNode = await call('NodeById', { id: str(firstNode['id']) });
    const jobNode = await call('NodeById', { id: str(asRecord(firstNode['job'])['id']) });
    const stopped = await call('StopAllocation', { input: { id: str(firstNode['id']), noShutdownDelay: true } });
    return [
      `import type { AllocationsPageQuery, NodeByIdQuery, StopAllocationMutation } from './operations';`,
      `export const page: AllocationsPageQuery = ${JSON.stringify(page)};`,
      `export const allocationNode: NodeByIdQuery = ${JSON.stringify(allocationNode)};`,
      `export const jobNode: NodeByIdQuery = ${JSON.stringify(jobNode)};`,
      `export const stopped: StopAllocationMutation = ${JSON.stringify(stopped)};`,
      '',
    ].join('\n');
  }

  it('should map the custom scalars and name the connection types as the schema does', async () => {
    const { schemaTypes, operations } = await generate();
    expect(schemaTypes).toMatch(/^\s*Uint64: \{ input: string; output: string; \}$/m);
    expect(schemaTypes).toMatch(/^\s*DateTime: \{ input: string; output: string; \}$/m);
    expect(schemaTypes).toMatch(/^\s*Duration: \{ input: string; output: string; \}$/m);
    expect(schemaTypes).toMatch(/^\s*JSON: \{ input: unknown; output: unknown; \}$/m);
    expect(schemaTypes).toMatch(/^export type AllocationConnection = \{$/m);
    expect(schemaTypes).toMatch(/^export type AllocationEdge = \{$/m);
    expect(schemaTypes).toMatch(/^\s*restarts: Scalars\['Int'\]\['output'\];$/m);
    expect(schemaTypes).toMatch(/^\s*allocations: AllocationConnection;$/m);
    expect(`${schemaTypes}\n${operations}`).not.toMatch(/QueryAllocationsConnection|ConnectionEdge/);
    // The operation types carry the mapped TypeScript types themselves.
    expect(operations).toContain('restarts: number');
    expect(operations).toContain('modifyIndex: string');
    expect(operations).toContain('jobVersion: number | null');
    expect(operations).toContain('killTimeout: string');
    expect(operations).toContain('details: unknown');
    expect(operations).toContain('createTime: string | null');
    expect(operations).toContain('index: string');
  });

  it('should compile with the native tsc under strict, the gateway’s real answers included', async () => {
    const { schemaTypes, operations } = await generate();
    await writeFile(join(dir, 'schema-types.ts'), schemaTypes);
    await writeFile(join(dir, 'operations.ts'), operations);
    await writeFile(join(dir, 'usage.ts'), USAGE);
    await writeFile(join(dir, 'live.ts'), await liveAnswers());
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));

    const result = await runTsc(join(dir, 'tsconfig.json'));
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
