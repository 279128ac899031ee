/**
 * The query path: a dashboard page of 100 allocations through the gateway against the direct
 * Nomad calls that do the same upstream work and that a plain REST client makes; and how many
 * upstream calls a page with its jobs, nodes and services costs against one call per link.
 */
import { compare, LoadClient, type LoadSummary, type LoadTarget } from '../load.ts';
import { difference, upstreamCalls } from '../gateway-metrics.ts';
import { figure, type Figure } from '../report.ts';

/** What an allocations dashboard shows per row: list fields only, so no task states upstream. */
export const DASHBOARD_QUERY = /* GraphQL */ `query Dashboard($after: String) {
  allocations(namespace: "*", first: 100, after: $after) {
    edges { node { id allocId name namespace jobId taskGroup clientStatus desiredStatus nodeName modifyTime } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The same page with what each row links to. */
export const LINKED_QUERY = /* GraphQL */ `query Linked {
  allocations(namespace: "*", first: 100) {
    edges { node { allocId job { jobId type priority } node { name status } services { serviceName port } } }
  }
}`;

/** The one upstream call the dashboard page needs: what the gateway sends, and the honest baseline. */
export const EQUAL_WORK_PATH = '/v1/allocations?namespace=*&per_page=100&task_states=false';
/** What a REST client taking Nomad's defaults sends for the same page (task states included). */
export const PLAIN_REST_PATH = '/v1/allocations?namespace=*&per_page=100';

export interface QueryScenarioOptions {
  simUrl: string;
  gatewayUrl: string;
  /** `bench/floor-server.ts` forwarding Nomad's bytes, and parsing, projecting and re-serialising them. */
  floorForwardUrl: string;
  floorProjectUrl: string;
  quick: boolean;
}

function graphqlTarget(gatewayUrl: string, query: string): LoadTarget {
  return {
    origin: gatewayUrl,
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query }),
  };
}

/** p50, p99 and throughput of the dashboard page at one concurrency, against both baselines. */
async function overheadAt(options: QueryScenarioOptions, concurrency: number): Promise<Figure[]> {
  const { quick } = options;
  const floorTarget = (origin: string): LoadTarget => ({ ...graphqlTarget(origin, DASHBOARD_QUERY), origin });
  const results = await compare(
    {
      gateway: graphqlTarget(options.gatewayUrl, DASHBOARD_QUERY),
      equalWork: { origin: options.simUrl, method: 'GET', path: EQUAL_WORK_PATH },
      plainRest: { origin: options.simUrl, method: 'GET', path: PLAIN_REST_PATH },
      floorForward: floorTarget(options.floorForwardUrl),
      floorProject: floorTarget(options.floorProjectUrl),
    },
    quick ? { concurrency, sliceMs: 150, slices: 2, warmupMs: 100 } : { concurrency, sliceMs: 2_000, slices: concurrency === 1 ? 6 : 4, warmupMs: 2_000 },
  );
  const { gateway, equalWork, plainRest, floorForward, floorProject } = results;
  if (gateway === undefined || equalWork === undefined || plainRest === undefined || floorForward === undefined || floorProject === undefined) {
    throw new Error('a target was not measured');
  }
  for (const [name, summary] of Object.entries(results)) {
    if (summary.errors > 0) throw new Error(`${name}: ${summary.errors} of ${summary.requests} requests failed`);
  }
  const scenario = `query overhead, concurrency ${concurrency}`;
  const equal = (measure: string, unit: string, pick: (s: LoadSummary) => number, target?: Figure['target']): Figure =>
    figure({ scenario, measure, unit, value: pick(gateway), baseline: { name: 'equal-work call', value: pick(equalWork) }, target });
  const plain = (measure: string, unit: string, pick: (s: LoadSummary) => number): Figure =>
    figure({ scenario, measure, unit, value: pick(gateway), baseline: { name: 'plain REST call', value: pick(plainRest) } });
  /** A floor process against the equal-work call: where the gateway could be at best. */
  const floor = (name: string, summary: LoadSummary, measure: string, unit: string, pick: (s: LoadSummary) => number): Figure =>
    figure({ scenario, measure: `${measure} of the floor: ${name}`, unit, value: pick(summary), baseline: { name: 'equal-work call', value: pick(equalWork) } });
  const overFloor = (measure: string, unit: string, pick: (s: LoadSummary) => number): Figure =>
    figure({ scenario, measure: `${measure}, gateway over the parse-and-project floor`, unit, value: pick(gateway), baseline: { name: 'floor: parse, project, write', value: pick(floorProject) } });
  return [
    equal('p50 latency', 'ms', (s) => s.p50Ms, concurrency === 1 ? { of: 'ratio', op: '<=', bound: 1.4 } : undefined),
    plain('p50 latency', 'ms', (s) => s.p50Ms),
    equal('p99 latency', 'ms', (s) => s.p99Ms),
    plain('p99 latency', 'ms', (s) => s.p99Ms),
    equal('throughput', 'req/s', (s) => s.throughput, concurrency === 32 ? { of: 'ratio', op: '>=', bound: 0.6 } : undefined),
    plain('throughput', 'req/s', (s) => s.throughput),
    floor('forward bytes', floorForward, 'p50 latency', 'ms', (s) => s.p50Ms),
    floor('parse, project, write', floorProject, 'p50 latency', 'ms', (s) => s.p50Ms),
    floor('forward bytes', floorForward, 'throughput', 'req/s', (s) => s.throughput),
    floor('parse, project, write', floorProject, 'throughput', 'req/s', (s) => s.throughput),
    overFloor('p50 latency', 'ms', (s) => s.p50Ms),
    overFloor('throughput', 'req/s', (s) => s.throughput),
  ];
}

/** Upstream calls per request for `query`, counted from the gateway's own /metrics. */
async function callsPerRequest(gatewayUrl: string, query: string, requests: number): Promise<{ total: number; byRoute: Map<string, number> }> {
  const client = new LoadClient(gatewayUrl, 1);
  try {
    await client.once(graphqlTarget(gatewayUrl, query)); // warm (nothing is cached across requests, but the first compiles)
    const before = await upstreamCalls(gatewayUrl, { blocking: false });
    for (let i = 0; i < requests; i++) {
      const result = await client.once(graphqlTarget(gatewayUrl, query));
      if (!result.ok) throw new Error('a GraphQL request failed');
    }
    const byRoute = difference(await upstreamCalls(gatewayUrl, { blocking: false }), before);
    for (const [route, count] of byRoute) byRoute.set(route, count / requests);
    return { total: [...byRoute.values()].reduce((sum, n) => sum + n, 0), byRoute };
  } finally {
    await client.close();
  }
}

/** Bytes of one answer to `path` from the simulator. */
async function bodyBytes(simUrl: string, path: string): Promise<number> {
  const client = new LoadClient(simUrl, 1);
  try {
    const result = await client.once({ origin: simUrl, method: 'GET', path });
    if (!result.ok) throw new Error(`GET ${path} failed`);
    return result.bytes;
  } finally {
    await client.close();
  }
}

export async function runQueryScenarios(options: QueryScenarioOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  figures.push(...(await overheadAt(options, 1)));
  figures.push(...(await overheadAt(options, 32)));

  // Upstream bytes: the gateway's calls for one dashboard page (one list call, counted), each the
  // size of the equal-work answer, against what the plain REST client downloads.
  const dashboard = await callsPerRequest(options.gatewayUrl, DASHBOARD_QUERY, options.quick ? 2 : 10);
  const listCalls = dashboard.byRoute.get('/v1/allocations') ?? 0;
  if (dashboard.total !== listCalls) throw new Error(`the dashboard page made other calls: ${JSON.stringify([...dashboard.byRoute])}`);
  figures.push(
    figure({
      scenario: 'query overhead',
      measure: 'upstream bytes per dashboard page',
      unit: 'B',
      value: listCalls * (await bodyBytes(options.simUrl, EQUAL_WORK_PATH)),
      baseline: { name: 'plain REST call', value: await bodyBytes(options.simUrl, PLAIN_REST_PATH) },
      note: `${listCalls} upstream call(s) per page (gateway /metrics) of the equal-work answer's size`,
    }),
  );

  // Batching: a page with each row's job, node and services.
  const linked = await callsPerRequest(options.gatewayUrl, LINKED_QUERY, options.quick ? 1 : 5);
  figures.push(
    figure({
      scenario: 'batching',
      measure: 'upstream calls for a page of 100 with job, node, services',
      unit: 'calls',
      value: linked.total,
      baseline: { name: 'one call per link (1 + 3 × 100)', value: 301 },
      note: [...linked.byRoute].map(([route, count]) => `${route}: ${count}`).join(', '),
    }),
  );
  return figures;
}
