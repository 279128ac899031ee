import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNomadClient } from '../../../src/nomad/client.ts';
import { startSimulator, type Simulator } from '../../../src/simulator/server.ts';
import { createGatewayApp, type GraphQLResponse } from '../../helpers/gateway.ts';
import { asArray, asRecord } from '../../helpers/http.ts';

/**
 * What the gateway asks of Nomad for a query: how many upstream calls (the simulator's own request
 * counters) and with which list parameters (a recording proxy between the gateway and the simulator).
 */

interface RecordingProxy {
  url: string;
  /** Every request URL that went through, oldest first. */
  requests: URL[];
  stop(): Promise<void>;
}

/** Hop-by-hop headers, and the encoding headers `fetch` invalidates by decompressing. */
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length', 'host', 'accept-encoding']);

/** The request body as text (Nomad's API takes JSON bodies only), or undefined when there is none. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** A real HTTP server on port 0 that forwards every request to `target` with fetch and records its URL. */
async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: URL[] = [];
  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests.push(new URL(req.url ?? '/', target));
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !DROPPED_HEADERS.has(name)) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const body = await readBody(req);
    const upstream = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers, body });
    const responseHeaders: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!DROPPED_HEADERS.has(name)) responseHeaders[name] = value;
    });
    const payload = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, responseHeaders);
    res.end(payload);
  };
  const server: Server = createServer((req, res) => {
    forward(req, res).catch((error: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Stack {
  sim: Simulator;
  proxy: RecordingProxy;
  graphql(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse>;
}

/** Simulator ← recording proxy ← Nomad client ← gateway, all on port 0, stopped in afterAll. */
function useProxiedStack(): () => Stack {
  const leftovers: (() => Promise<void>)[] = [];
  let stack: Stack | undefined;
  beforeAll(async () => {
    const sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 } });
    leftovers.push(() => sim.stop());
    const proxy = await startRecordingProxy(sim.url);
    leftovers.push(() => proxy.stop());
    const nomad = createNomadClient({ address: proxy.url });
    leftovers.push(() => nomad.close());
    const app = createGatewayApp(nomad);
    const { url } = await app.start(0);
    leftovers.push(() => app.stop());
    stack = {
      sim,
      proxy,
      graphql: async (query, variables) => {
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
          body: JSON.stringify({ query, variables }),
        });
        return { status: response.status, ...((await response.json()) as Omit<GraphQLResponse, 'status'>) };
      },
    };
  });
  afterAll(async () => {
    for (const stop of leftovers.reverse()) await stop();
  });
  return () => {
    if (stack === undefined) throw new Error('stack not started yet');
    return stack;
  };
}

/** The `allocations` edges' nodes of a successful response. */
function nodesOf(response: GraphQLResponse): Record<string, unknown>[] {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return asArray(asRecord(asRecord(response.data)['allocations'])['edges']).map((edge) => asRecord(asRecord(edge)['node']));
}

const STUB_FIELDS = /* GraphQL */ `
  id name namespace evalId nodeId nodeName jobId jobType jobVersion taskGroup
  desiredStatus desiredDescription desiredTransition { migrate reschedule forceReschedule noShutdownDelay migrateDisablePlacement }
  clientStatus clientDescription
  deploymentStatus { healthy timestamp canary modifyIndex }
  followupEvalId rescheduleTracker { lastReschedule events { prevAllocId } }
  createIndex modifyIndex createTime modifyTime
`;

describe('upstream calls per query', () => {
  const stack = useProxiedStack();
  const sim = (): Simulator => stack().sim;

  beforeAll(async () => {
    const { cluster } = sim();
    for (let i = 0; i < 4; i++) cluster.createNode();
    const withService = (name: string) => [{ name, services: [{ name: `${name}-svc`, tags: ['t'] }] }];
    cluster.createJob({ id: 'alpha', groups: [{ name: 'alpha', count: 40, tasks: withService('alpha') }] });
    cluster.createJob({ id: 'beta', groups: [{ name: 'beta', count: 35, tasks: withService('beta') }] });
    cluster.createJob({ id: 'gamma', type: 'batch', count: 20 });
    cluster.createJob({ id: 'delta', groups: [{ name: 'delta', count: 15, tasks: [{ name: 'main' }, { name: 'sidecar' }] }] });
    cluster.createJob({ id: 'other', namespace: 'prod', count: 5 });
    await cluster.idle();
  });

  beforeEach(() => {
    sim().resetRequestCounts();
    stack().proxy.requests.length = 0;
  });

  /** The list requests the gateway sent since the test began. */
  function listRequests(): URL[] {
    return stack().proxy.requests.filter((url) => url.pathname === '/v1/allocations');
  }

  function onlyListRequest(): URL {
    const lists = listRequests();
    expect(lists).toHaveLength(1);
    const [only] = lists;
    if (only === undefined) throw new Error('no list request');
    return only;
  }

  describe('links', () => {
    it('should read each distinct job, node and job service list once for a page of 100', async () => {
      const response = await stack().graphql(/* GraphQL */ `
        {
          allocations(first: 100) {
            edges { node { allocId job { jobId type } node { nodeId name } services { id serviceName allocId } } }
          }
        }
      `);
      const nodes = nodesOf(response);
      expect(nodes).toHaveLength(100);
      const jobs = new Set(nodes.map((n) => String(asRecord(n['job'])['jobId'])));
      const clientNodes = new Set(nodes.map((n) => String(asRecord(n['node'])['nodeId'])));
      expect(jobs.size).toBeGreaterThanOrEqual(3);
      expect(clientNodes.size).toBeGreaterThanOrEqual(3);
      expect(sim().requestCounts()).toEqual({
        'GET /v1/allocations': 1,
        'GET /v1/job/:id': jobs.size,
        'GET /v1/node/:id': clientNodes.size,
        'GET /v1/job/:id/services': jobs.size,
      });
      // Each allocation got its own registrations out of its job's list (gamma and delta declare none).
      for (const n of nodes) {
        const services = asArray(n['services']).map(asRecord);
        const declaresServices = ['alpha', 'beta'].includes(String(asRecord(n['job'])['jobId']));
        expect(services.length, String(n['allocId'])).toBe(declaresServices ? 1 : 0);
        expect(services.every((s) => s['allocId'] === n['allocId'])).toBe(true);
      }
    });

    it('should make no full allocation read when only stub fields are selected', async () => {
      const response = await stack().graphql(`{ allocations(namespace: "*", first: 100) { edges { node { ${STUB_FIELDS} } } } }`);
      expect(nodesOf(response)).toHaveLength(100);
      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocations': 1 });
    });

    it('should make no full allocation read for task states and allocated resources, which the list can carry', async () => {
      const response = await stack().graphql(`{
        allocations(first: 100) { edges { node { ${STUB_FIELDS} taskStates { name state restarts events { type } } taskState(name: "main") { state } allocatedResources { sharedDiskMB tasks { task cpuShares } } } } }
      }`);
      const nodes = nodesOf(response);
      expect(nodes).toHaveLength(100);
      expect(nodes.every((n) => asArray(n['taskStates']).length > 0 && n['allocatedResources'] !== null)).toBe(true);
      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocations': 1 });
    });
  });

  describe('task_states and resources', () => {
    async function listParams(selection: string, extra = ''): Promise<URLSearchParams> {
      const response = await stack().graphql(`{ allocations(first: 5) { edges { node { id ${selection} } } } } ${extra}`);
      expect(nodesOf(response)).toHaveLength(5);
      return onlyListRequest().searchParams;
    }

    it('should send task_states=false when no task state is selected', async () => {
      const params = await listParams('name clientStatus');
      expect(params.get('task_states')).toBe('false');
      expect(params.get('resources')).not.toBe('true');
    });

    it('should not send task_states=false when taskStates is selected', async () => {
      expect((await listParams('taskStates { name state }')).get('task_states')).not.toBe('false');
      expect(sim().requestCount('GET /v1/allocation/:id')).toBe(0);
    });

    it('should not send task_states=false when taskState(name:) is selected', async () => {
      expect((await listParams('taskState(name: "server") { state }')).get('task_states')).not.toBe('false');
      expect(sim().requestCount('GET /v1/allocation/:id')).toBe(0);
    });

    it('should not send task_states=false when task states are selected through fragments', async () => {
      const named = await listParams('...States', 'fragment States on Allocation { taskStates { name } }');
      expect(named.get('task_states')).not.toBe('false');
      stack().proxy.requests.length = 0;
      const inline = await listParams('... on Allocation { taskState(name: "server") { state } }');
      expect(inline.get('task_states')).not.toBe('false');
      stack().proxy.requests.length = 0;
      const nested = await stack().graphql(`
        { allocations(first: 5) { ...Page } }
        fragment Page on AllocationConnection { edges { ...Edge } }
        fragment Edge on AllocationEdge { node { id ...States } }
        fragment States on Allocation { taskStates { name } }
      `);
      expect(nodesOf(nested)).toHaveLength(5);
      expect(onlyListRequest().searchParams.get('task_states')).not.toBe('false');
      expect(sim().requestCount('GET /v1/allocation/:id')).toBe(0);
    });

    it('should send task_states=false when the task states are skipped', async () => {
      expect((await listParams('taskStates @skip(if: true) { name }')).get('task_states')).toBe('false');
    });

    it('should send resources=true only when allocatedResources is selected', async () => {
      expect((await listParams('allocatedResources { sharedDiskMB }')).get('resources')).toBe('true');
      expect(sim().requestCount('GET /v1/allocation/:id')).toBe(0);
      stack().proxy.requests.length = 0;
      expect((await listParams('taskStates { name }')).get('resources')).not.toBe('true');
      stack().proxy.requests.length = 0;
      expect((await listParams('...R', 'fragment R on Allocation { allocatedResources { ports { label } } }')).get('resources')).toBe('true');
    });
  });

  describe('paging parameters', () => {
    it('should ask Nomad for one more than first, forwards', async () => {
      const response = await stack().graphql('{ allocations(first: 7) { edges { node { id } } pageInfo { hasNextPage } } }');
      expect(nodesOf(response)).toHaveLength(7);
      const params = onlyListRequest().searchParams;
      expect(params.get('per_page')).toBe('8');
      expect(params.get('reverse')).toBeNull();
      expect(params.get('next_token')).toBeNull();
    });

    it('should ask Nomad for one more than last, in reverse', async () => {
      const response = await stack().graphql('{ allocations(last: 7) { edges { node { id } } pageInfo { hasPreviousPage } } }');
      expect(nodesOf(response)).toHaveLength(7);
      const params = onlyListRequest().searchParams;
      expect(params.get('per_page')).toBe('8');
      expect(params.get('reverse')).toBe('true');
    });

    it('should ask for 51 when neither first nor last is given, and never more than 501', async () => {
      await stack().graphql('{ allocations { edges { node { id } } } }');
      expect(onlyListRequest().searchParams.get('per_page')).toBe('51');
      stack().proxy.requests.length = 0;
      await stack().graphql('{ allocations(namespace: "*", first: 500) { edges { node { id } } } }');
      expect(onlyListRequest().searchParams.get('per_page')).toBe('501');
    });

    it('should resume from the cursor\'s Nomad token and check the other side only when asked', async () => {
      const first = await stack().graphql('{ allocations(first: 3) { edges { cursor node { allocId createIndex } } } }');
      const edges = asArray(asRecord(asRecord(first.data)['allocations'])['edges']).map(asRecord);
      const last = edges[2];
      if (last === undefined) throw new Error('no third edge');
      const lastNode = asRecord(last['node']);
      stack().proxy.requests.length = 0;
      await stack().graphql('query($after: String) { allocations(first: 3, after: $after) { edges { node { id } } } }', { after: last['cursor'] });
      expect(onlyListRequest().searchParams.get('next_token')).toBe(`${String(lastNode['createIndex'])}.${String(lastNode['allocId'])}`);
      stack().proxy.requests.length = 0;
      await stack().graphql('query($after: String) { allocations(first: 3, after: $after) { pageInfo { hasPreviousPage } } }', { after: last['cursor'] });
      const lists = listRequests();
      expect(lists).toHaveLength(2);
      expect(lists[1]?.searchParams.get('reverse')).toBe('true');
    });

    it('should pass prefix, filter and namespace through unchanged', async () => {
      await stack().graphql('{ allocations(namespace: "*", prefix: "AB", filter: "JobID == \\"alpha\\"", where: { taskGroup: "alpha" }) { edges { node { id } } } }');
      const params = onlyListRequest().searchParams;
      expect(params.get('namespace')).toBe('*');
      expect(params.get('prefix')).toBe('AB');
      expect(params.get('filter')).toBe('(JobID == "alpha") and (TaskGroup == "alpha")');
    });
  });

  describe('full reads', () => {
    it('should read each allocation once for full-only fields, however many are selected', async () => {
      const response = await stack().graphql(`{
        allocations(first: 20) { edges { node { allocId metrics { nodesEvaluated } allocModifyIndex deploymentId allocStates { field } networkStatus { address } } } }
      }`);
      const nodes = nodesOf(response);
      expect(nodes).toHaveLength(20);
      expect(nodes.every((n) => asRecord(n['metrics'])['nodesEvaluated'] === 5)).toBe(true);
      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocations': 1, 'GET /v1/allocation/:id': 20 });
      const reads = stack().proxy.requests.filter((url) => url.pathname.startsWith('/v1/allocation/')).map((url) => url.pathname);
      expect(new Set(reads).size).toBe(20);
      expect(new Set(reads)).toEqual(new Set(nodes.map((n) => `/v1/allocation/${String(n['allocId'])}`)));
    });

    it('should read each allocation once for allocModifyIndex on a page of 100', async () => {
      const response = await stack().graphql('{ allocations(first: 100) { edges { node { id allocModifyIndex taskStates { name } } } } }');
      expect(nodesOf(response)).toHaveLength(100);
      expect(sim().requestCount('GET /v1/allocation/:id')).toBe(100);
      expect(sim().requestCount('GET /v1/allocations')).toBe(1);
    });

    it('should read no more allocations than the page holds for previousAllocation when the previous ones are on the page', async () => {
      const { cluster, store } = sim();
      const { allocations } = cluster.createJob({ id: 'flaky', count: 4 });
      await cluster.idle();
      for (const alloc of allocations.slice(0, 2)) cluster.failTask(alloc.ID, 'server');
      await cluster.idle();
      const expected = [...store.allocs.values()].filter((a) => a.JobID === 'flaky');
      expect(expected).toHaveLength(6);
      sim().resetRequestCounts();

      const response = await stack().graphql('{ allocations(first: 50, where: { jobId: "flaky" }) { edges { node { allocId previousAllocation { allocId clientStatus } } } } }');
      const nodes = nodesOf(response);
      expect(nodes).toHaveLength(6);
      const previous = nodes.map((n) => (n['previousAllocation'] === null ? null : asRecord(n['previousAllocation'])['allocId']));
      expect(previous.filter((id) => id !== null).sort()).toEqual(allocations.slice(0, 2).map((a) => a.ID).sort());
      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocations': 1, 'GET /v1/allocation/:id': 6 });
    });

    it('should make one full read for allocation(id:) however many full-only fields it selects', async () => {
      const [alloc] = sim().store.allocs.values();
      if (alloc === undefined) throw new Error('no allocation');
      const response = await stack().graphql('query($id: ID!) { allocation(id: $id) { id metrics { nodesEvaluated } allocModifyIndex taskStates { name } } }', { id: alloc.ID });
      expect(response.errors).toBeUndefined();
      expect(sim().requestCounts()).toEqual({ 'GET /v1/allocation/:id': 1 });
    });
  });
});
