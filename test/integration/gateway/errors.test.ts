import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { createNomadClient, type NomadClient } from '../../../src/nomad/client.ts';
import { NomadDecodeError, NomadHttpError, NomadTimeoutError, NomadUnavailableError } from '../../../src/nomad/errors.ts';
import { ErrorCode } from '../../../src/error-codes.ts';
import { toGraphQLError } from '../../../src/schema/errors.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createGatewayApp, startGatewayStack, useGatewayStack, type GatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';
import { send } from '../../helpers/http.ts';

const MANAGEMENT = randomUUID();
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

function codes(response: GraphQLResponse): unknown[] {
  return (response.errors ?? []).map((e) => e.extensions?.['code']);
}

function only(response: GraphQLResponse): NonNullable<GraphQLResponse['errors']>[number] {
  expect(response.errors).toHaveLength(1);
  const [error] = response.errors ?? [];
  if (error === undefined) throw new Error('no error');
  return error;
}

/** POSTs a raw body to /graphql and returns the status and the body text. */
async function postRaw(url: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body,
  });
  return { status: response.status, text: await response.text() };
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('not started yet');
  return value;
}

/** A gateway on port 0 over the given Nomad client; stopped (with the client) by the returned function. */
async function startGateway(nomad: NomadClient): Promise<{ url: string; stop(): Promise<void> }> {
  const app: App = createGatewayApp(nomad);
  const { url } = await app.start(0);
  return {
    url,
    stop: async () => {
      await app.stop();
      await nomad.close();
    },
  };
}

async function graphqlAt(url: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as Omit<GraphQLResponse, 'status'>) };
}

const STOP = 'mutation($id: ID!) { stopAllocation(input: { id: $id }) { evalId } }';
const SIGNAL = 'mutation($id: ID!, $task: String, $signal: String!) { signalAllocation(input: { id: $id, task: $task, signal: $signal }) { allocation { id } } }';
const RESTART = 'mutation($id: ID!, $task: String) { restartAllocation(input: { id: $id, task: $task }) { allocation { id } } }';

describe('gateway error mapping against the simulator', () => {
  // ACLs on, so a 403 can be provoked; callers without a token act as management.
  const stack = useGatewayStack({ simulator: { acl: true, managementToken: MANAGEMENT }, defaultToken: MANAGEMENT });
  let allocId = '';

  beforeAll(async () => {
    const { allocations } = stack().sim.cluster.createJob({
      id: 'errors',
      groups: [{ name: 'g', count: 1, tasks: [{ name: 'web' }, { name: 'init' }] }],
    });
    await stack().sim.cluster.idle();
    allocId = allocations[0]?.ID ?? '';
    stack().sim.cluster.setTaskState(allocId, 'init', 'dead');
  });

  it('should map a 400 for a bad filter to BAD_USER_INPUT with Nomad\'s message', async () => {
    const syntax = await stack().graphql('{ allocations(filter: "ClientStatus ==") { edges { node { id } } } }');
    const error = only(syntax);
    expect(error.extensions?.['code']).toBe(ErrorCode.BAD_USER_INPUT);
    expect(error.extensions?.['upstreamStatus']).toBe(400);
    expect(error.message).toMatch(/^failed to create result paginator: failed to read filter expression: /);
    expect(error.path).toEqual(['allocations']);

    const unknownField = await stack().graphql('{ allocations(filter: "NoSuchField == \\"x\\"") { edges { node { id } } } }');
    expect(codes(unknownField)).toEqual([ErrorCode.BAD_USER_INPUT]);
    expect(only(unknownField).message).toMatch(/^failed to read result page: error finding value in datum: /);
  });

  it('should map a 403 to FORBIDDEN', async () => {
    const { SecretID } = stack().sim.acl.createToken({ namespaces: { other: { policy: 'read' } } });
    const response = await stack().graphql('{ allocations { edges { node { id } } } }', {}, { 'X-Nomad-Token': SecretID });
    const error = only(response);
    expect(error.extensions?.['code']).toBe(ErrorCode.FORBIDDEN);
    expect(error.extensions?.['upstreamStatus']).toBe(403);
    expect(error.message).toContain('Permission denied');
    expect(response.data).toBeNull();
  });

  it('should answer null, without an error, when reading an unknown allocation', async () => {
    const response = await stack().graphql(`{ allocation(id: "${UNKNOWN_ID}") { id } }`);
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ allocation: null });
  });

  it('should answer NOT_FOUND when stopping, signalling or restarting an unknown allocation', async () => {
    const responses = [
      await stack().graphql(STOP, { id: UNKNOWN_ID }),
      await stack().graphql(SIGNAL, { id: UNKNOWN_ID, signal: 'SIGHUP' }),
      await stack().graphql(RESTART, { id: UNKNOWN_ID }),
    ];
    for (const response of responses) {
      const error = only(response);
      expect(error.extensions?.['code']).toBe(ErrorCode.NOT_FOUND);
      expect(error.extensions?.['upstreamStatus']).toBe(404);
      expect(response.data).toBeNull();
    }
  });

  it('should refuse a short id in a mutation as BAD_USER_INPUT before Nomad can answer 500', async () => {
    stack().sim.resetRequestCounts();
    const response = await stack().graphql(STOP, { id: allocId.slice(0, 8) });
    expect(stack().sim.requestCounts()).toEqual({});
    expect(codes(response)).toEqual([ErrorCode.BAD_USER_INPUT]);
    expect(only(response).message).toContain('full UUID');
  });

  it('should refuse an id or prefix a read cannot use as BAD_USER_INPUT', async () => {
    stack().sim.resetRequestCounts();
    const short = await stack().graphql('{ allocation(id: "abc") { id } }');
    const oddPrefix = await stack().graphql('{ allocations(prefix: "abc") { edges { node { id } } } }');
    expect(stack().sim.requestCounts()).toEqual({});
    expect(codes(short)).toEqual([ErrorCode.BAD_USER_INPUT]);
    expect(codes(oddPrefix)).toEqual([ErrorCode.BAD_USER_INPUT]);
  });

  it('should map Nomad\'s 500 for a signal to an unknown task to BAD_USER_INPUT', async () => {
    const error = only(await stack().graphql(SIGNAL, { id: allocId, task: 'nope', signal: 'SIGHUP' }));
    expect(error.extensions).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, upstreamStatus: 500 });
    expect(error.message).toBe('Task not found');
  });

  it('should map Nomad\'s 500 for a restart of an unknown task to BAD_USER_INPUT', async () => {
    const error = only(await stack().graphql(RESTART, { id: allocId, task: 'nope' }));
    expect(error.extensions).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, upstreamStatus: 500 });
    expect(error.message).toBe('Could not find task runner for task: nope');
  });

  it('should map Nomad\'s 500 for a signal to a task that is not running to FAILED_PRECONDITION', async () => {
    const named = only(await stack().graphql(SIGNAL, { id: allocId, task: 'init', signal: 'SIGHUP' }));
    expect(named.extensions).toMatchObject({ code: ErrorCode.FAILED_PRECONDITION, upstreamStatus: 500 });
    expect(named.message).toBe('Task not running');
    // Every task: Nomad answers with a go-multierror list naming the task that is not running.
    const every = only(await stack().graphql(SIGNAL, { id: allocId, signal: 'SIGHUP' }));
    expect(every.extensions).toMatchObject({ code: ErrorCode.FAILED_PRECONDITION, upstreamStatus: 500 });
    expect(every.message).toContain('Failed to signal task: init, err: Task not running');
  });

  it('should map Nomad\'s 500 for a restart of a task that is not running to FAILED_PRECONDITION', async () => {
    const error = only(await stack().graphql(RESTART, { id: allocId, task: 'init' }));
    expect(error.extensions).toMatchObject({ code: ErrorCode.FAILED_PRECONDITION, upstreamStatus: 500 });
  });

  it('should map Nomad\'s 500s for acting on a failed allocation to FAILED_PRECONDITION', async () => {
    const { allocations } = stack().sim.cluster.createJob({ id: 'failing', type: 'batch', groups: [{ name: 'g', tasks: [{ name: 'work' }] }] });
    await stack().sim.cluster.idle();
    const id = allocations[0]?.ID ?? '';
    stack().sim.cluster.failTask(id, 'work');
    await stack().sim.cluster.idle();

    const restart = only(await stack().graphql(RESTART, { id }));
    expect(restart.extensions).toMatchObject({ code: ErrorCode.FAILED_PRECONDITION, upstreamStatus: 500 });
    expect(restart.message).toBe('restart of an alloc that should not run');
    const restartAll = only(await stack().graphql('mutation($id: ID!) { restartAllocation(input: { id: $id, allTasks: true }) { allocation { id } } }', { id }));
    expect(restartAll.extensions?.['code']).toBe(ErrorCode.FAILED_PRECONDITION);
    const signal = only(await stack().graphql(SIGNAL, { id, signal: 'SIGTERM' }));
    expect(signal.extensions?.['code']).toBe(ErrorCode.FAILED_PRECONDITION);
  });

  it('should answer malformed GraphQL with a parse error and keep serving', async () => {
    const syntax = await stack().graphql('{ allocations( ');
    expect(syntax.status).toBe(400);
    expect(syntax.data).toBeUndefined();
    expect(codes(syntax)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(only(syntax).message).toMatch(/^Syntax Error/);

    const unknownField = await stack().graphql('{ allocations { edges { node { noSuchField } } } }');
    expect(unknownField.status).toBe(400);
    expect(codes(unknownField)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(only(unknownField).message).toContain('noSuchField');

    const wrongType = await stack().graphql('mutation { stopAllocation(input: { id: 5, noShutdownDelay: "yes" }) { evalId } }');
    expect(wrongType.status).toBe(400);
    expect(codes(wrongType)).toEqual(['GRAPHQL_VALIDATION_FAILED']);

    const notJson = await postRaw(stack().url, '{"query": ');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.text)).toMatchObject({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] });

    const healthy = await stack().graphql(`{ allocation(id: "${allocId}") { allocId } }`);
    expect(healthy.data).toEqual({ allocation: { allocId } });
  });

  it('should answer /healthz and /readyz with 200 while Nomad is up', async () => {
    const health = await send(stack().url, '/healthz');
    const ready = await send(stack().url, '/readyz');
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
  });
});

describe('gateway errors when an allocation\'s node is down', () => {
  const stack = useGatewayStack();

  it('should answer FAILED_PRECONDITION, not NOT_FOUND, when signalling or restarting an allocation on a lost node', async () => {
    const { allocations } = stack().sim.cluster.createJob({ id: 'stranded', type: 'batch' });
    await stack().sim.cluster.idle();
    const alloc = allocations[0];
    if (alloc === undefined) throw new Error('no allocation placed');
    stack().sim.cluster.loseNode(alloc.NodeID);
    await stack().sim.cluster.idle();

    for (const response of [
      await stack().graphql(SIGNAL, { id: alloc.ID, signal: 'SIGHUP' }),
      await stack().graphql(RESTART, { id: alloc.ID }),
    ]) {
      const error = only(response);
      expect(error.extensions).toMatchObject({ code: ErrorCode.FAILED_PRECONDITION, upstreamStatus: 404 });
      expect(error.message).toBe('No path to node');
    }
    // The allocation itself is still there to read.
    const read = await stack().graphql(`{ allocation(id: "${alloc.ID}") { allocId clientStatus } }`);
    expect(read.data).toEqual({ allocation: { allocId: alloc.ID, clientStatus: 'LOST' } });
  });
});

describe('gateway errors when Nomad is down', () => {
  let stack: (GatewayStack & { stop(): Promise<void> }) | undefined;
  let simAddress = '';

  beforeAll(async () => {
    stack = await startGatewayStack();
    simAddress = new URL(stack.sim.url).host;
    await stack.sim.stop();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const down = (): GatewayStack => {
    if (stack === undefined) throw new Error('stack not started');
    return stack;
  };

  it('should answer UPSTREAM_UNAVAILABLE when Nomad refuses the connection', async () => {
    const response = await down().graphql('{ allocations { edges { node { id } } } }');
    const error = only(response);
    expect(error.extensions?.['code']).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(error.message).toBe('Nomad is unreachable');
    expect(response.data).toBeNull();
  });

  it('should answer UPSTREAM_UNAVAILABLE for a mutation when Nomad refuses the connection', async () => {
    const response = await down().graphql(STOP, { id: UNKNOWN_ID });
    expect(codes(response)).toEqual([ErrorCode.UPSTREAM_UNAVAILABLE]);
  });

  it('should answer /readyz with 503, without Nomad\'s address, and /healthz with 200', async () => {
    const ready = await send(down().url, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.text).not.toContain(simAddress);
    expect((await send(down().url, '/healthz')).status).toBe(200);
  });
});

describe('gateway errors when Nomad accepts but never answers', () => {
  let silent: Server | undefined;
  const sockets = new Set<Socket>();
  let gateway: { url: string; stop(): Promise<void> } | undefined;
  let accepted = 0;

  beforeAll(async () => {
    const server = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    silent = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    gateway = await startGateway(createNomadClient({ address: `http://127.0.0.1:${port}`, timeoutMs: 150 }));
  });
  afterAll(async () => {
    await gateway?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (silent === undefined ? resolve() : silent.close(() => resolve())));
  });

  it('should answer UPSTREAM_UNAVAILABLE once the client\'s deadline passes', async () => {
    const begin = performance.now();
    const response = await graphqlAt(started(gateway).url, `{ allocation(id: "${UNKNOWN_ID}") { id } }`);
    expect(performance.now() - begin).toBeLessThan(5_000);
    expect(accepted).toBeGreaterThan(0);
    const error = only(response);
    expect(error.extensions?.['code']).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(error.message).toBe('Nomad did not answer in time');
    expect(response.data).toEqual({ allocation: null });
  });

  it('should warn that a mutation whose answer never came may have been applied', async () => {
    const response = await graphqlAt(started(gateway).url, `mutation { stopAllocation(input: { id: "${UNKNOWN_ID}" }) { evalId } }`);
    const error = only(response);
    expect(error.extensions?.['code']).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(error.extensions?.['mayHaveApplied']).toBe(true);
    expect(error.message).toBe('Nomad did not answer in time; the action may still have been applied: check the allocation before retrying');
  });
});

describe('gateway errors it did not expect', () => {
  let sim: Simulator | undefined;
  let gateway: { url: string; stop(): Promise<void> } | undefined;
  const SECRET_DETAIL = 'internal-detail-4f1c';

  beforeAll(async () => {
    sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 } });
    sim.cluster.createJob({ id: 'masked' });
    await sim.cluster.idle();
    const real = createNomadClient({ address: sim.url });
    // A real client whose one read fails with a bug of ours, not a Nomad error.
    const nomad: NomadClient = {
      ...real,
      readAllocation: () => Promise.reject(new TypeError(`Cannot read properties of undefined (${SECRET_DETAIL})`)),
    };
    gateway = await startGateway(nomad);
  });
  afterAll(async () => {
    await gateway?.stop();
    await sim?.stop();
  });

  it('should mask an unexpected error as "Unexpected error." without a stack trace, keeping the rest of the data', async () => {
    const { status, text } = await postRaw(
      started(gateway).url,
      JSON.stringify({ query: `{ allocations { edges { node { jobId } } } allocation(id: "${UNKNOWN_ID}") { id } }` }),
    );
    expect(status).toBe(200);
    expect(text).not.toContain(SECRET_DETAIL);
    expect(text).not.toContain('TypeError');
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(text).not.toContain('stack');
    expect(text).not.toContain('originalError');
    const body = JSON.parse(text) as Omit<GraphQLResponse, 'status'>;
    expect(body.data).toEqual({ allocations: { edges: [{ node: { jobId: 'masked' } }] }, allocation: null });
    expect(body.errors).toEqual([
      expect.objectContaining({ message: 'Unexpected error.', path: ['allocation'], extensions: expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR' }) }),
    ]);
  });
});

describe('toGraphQLError', () => {
  const label = { method: 'GET', path: '/v1/allocation/x' };
  const meta = { LastIndex: 0n, KnownLeader: false, LastContact: 0, NextToken: '' };
  const http = (status: number, nomadMessage: string): NomadHttpError => new NomadHttpError({ ...label, status, nomadMessage, meta });
  const codeOf = (error: unknown): unknown => {
    const mapped = toGraphQLError(error);
    return mapped instanceof GraphQLError ? mapped.extensions['code'] : 'not a GraphQLError';
  };

  it('should map every status and every known user-error 500 of Nomad to its code', () => {
    const table: [NomadHttpError, ErrorCode][] = [
      [http(400, 'failed to read result page: error finding value in datum: x'), ErrorCode.BAD_USER_INPUT],
      [http(403, 'Permission denied'), ErrorCode.FORBIDDEN],
      [http(403, 'ACL token not found'), ErrorCode.FORBIDDEN],
      [http(404, 'alloc not found'), ErrorCode.NOT_FOUND],
      [http(404, 'allocation not found'), ErrorCode.NOT_FOUND],
      [http(404, `Unknown allocation "${UNKNOWN_ID}"`), ErrorCode.NOT_FOUND],
      [http(404, 'No path to node'), ErrorCode.FAILED_PRECONDITION],
      [http(404, `Unknown node "${UNKNOWN_ID}"`), ErrorCode.FAILED_PRECONDITION],
      [http(500, 'alloc lookup failed: index error: UUID must be 36 characters'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'alloc lookup failed: index error: Invalid UUID: encoding/hex: invalid byte: U+007A \'z\''), ErrorCode.BAD_USER_INPUT],
      [http(500, `Unknown allocation "${UNKNOWN_ID}"`), ErrorCode.FORBIDDEN],
      [http(500, 'task name cannot be set when restarting all tasks'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'Task not found'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'Could not find task runner for task: web'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'Task not running'), ErrorCode.FAILED_PRECONDITION],
      [http(500, '1 error occurred:\n\t* Failed to signal task: web, err: Task not running\n\n'), ErrorCode.FAILED_PRECONDITION],
      [http(500, 'restart of an alloc that should not run'), ErrorCode.FAILED_PRECONDITION],
      [http(500, 'Failed to parse value of "resources" (x) as a bool: strconv.ParseBool: parsing "x": invalid syntax'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'failed to parse signal: unknown signal "SIGBOGUS"'), ErrorCode.BAD_USER_INPUT],
      [http(500, 'rpc error: No cluster leader'), ErrorCode.UPSTREAM_UNAVAILABLE],
      [http(502, 'Bad Gateway'), ErrorCode.UPSTREAM_UNAVAILABLE],
      [http(503, ''), ErrorCode.UPSTREAM_UNAVAILABLE],
    ];
    for (const [error, code] of table) expect([error.status, error.nomadMessage, codeOf(error)]).toEqual([error.status, error.nomadMessage, code]);
  });

  it('should map transport and decode failures, and leave other errors for yoga to mask', () => {
    expect(codeOf(new NomadTimeoutError({ ...label, timeoutMs: 10 }))).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(codeOf(new NomadUnavailableError({ ...label, cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }))).toBe(
      ErrorCode.UPSTREAM_UNAVAILABLE,
    );
    expect(codeOf(new NomadDecodeError({ jsonPath: '$.ID', expected: 'a string', received: 'number', request: label }))).toBe(
      ErrorCode.UPSTREAM_INVALID_RESPONSE,
    );
    const bug = new TypeError('oops');
    expect(toGraphQLError(bug)).toBe(bug);
    const coded = new GraphQLError('already coded', { extensions: { code: ErrorCode.NOT_FOUND } });
    expect(toGraphQLError(coded)).toBe(coded);
  });
});
