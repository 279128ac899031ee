/**
 * `npm run bench`: a page of 100 allocations through the gateway against the same page from
 * Nomad's REST API directly, in the same run, reported as p50/p90 ratios. The simulator and the
 * gateway run as separate processes (as in production); this process only sends requests, one at
 * a time, alternating between the two so both see the same machine conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '300');
const WARMUP = 50;

function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const match = ready.exec(line);
      if (match !== null) resolve({ child, match });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
  });
}

interface Scenario {
  name: string;
  rest: { path: string };
  graphql: { query: string };
}

const STUB_FIELDS = 'id name namespace jobId taskGroup clientStatus desiredStatus nodeId nodeName createIndex modifyIndex createTime modifyTime';

const SCENARIOS: Scenario[] = [
  {
    name: 'list fields',
    rest: { path: '/v1/allocations?namespace=*&per_page=100&task_states=false' },
    graphql: { query: `{ allocations(namespace: "*", first: 100) { edges { cursor node { ${STUB_FIELDS} } } pageInfo { hasNextPage endCursor } } }` },
  },
  {
    name: 'with task states and events',
    rest: { path: '/v1/allocations?namespace=*&per_page=100' },
    graphql: {
      query: `{ allocations(namespace: "*", first: 100) { edges { cursor node { ${STUB_FIELDS} taskStates { name state failed restarts startedAt events { type time displayMessage } } } } pageInfo { hasNextPage endCursor } } }`,
    },
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function timeOnce(send: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const response = await send();
  await response.json();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return performance.now() - started;
}

const sim = await startProcess(['src/simulator/main.ts'], { SIMULATOR_PORT: '0', SIMULATOR_CHURN_MS: '0' }, /listening on (http:\/\/\S+)/);
const simUrl = sim.match[1] ?? '';
const gateway = await startProcess(['src/main.ts'], { NOMAD_ADDR: simUrl, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production' }, /ready at (http:\/\/[^/\s"]+)\/graphql/);
const gatewayUrl = gateway.match[1] ?? '';

try {
  // Let the demo cluster's allocations start, so both sides see settled data.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  console.log(`page of 100 allocations, ${ROUNDS} rounds each, p50 / p90 in ms (REST baseline = Nomad's API called directly)\n`);
  console.log('scenario                      | REST p50 | GraphQL p50 | ratio p50 | REST p90 | GraphQL p90 | ratio p90');
  console.log('------------------------------|----------|-------------|-----------|----------|-------------|----------');
  for (const scenario of SCENARIOS) {
    const rest = (): Promise<Response> => fetch(`${simUrl}${scenario.rest.path}`, { headers: { 'accept-encoding': 'gzip' } });
    const graphql = (): Promise<Response> =>
      fetch(`${gatewayUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(scenario.graphql) });
    const restTimes: number[] = [];
    const graphqlTimes: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const a = await timeOnce(rest);
      const b = await timeOnce(graphql);
      if (i >= WARMUP) {
        restTimes.push(a);
        graphqlTimes.push(b);
      }
    }
    restTimes.sort((x, y) => x - y);
    graphqlTimes.sort((x, y) => x - y);
    const [r50, g50, r90, g90] = [percentile(restTimes, 0.5), percentile(graphqlTimes, 0.5), percentile(restTimes, 0.9), percentile(graphqlTimes, 0.9)];
    console.log(
      `${scenario.name.padEnd(30)}| ${r50.toFixed(2).padStart(8)} | ${g50.toFixed(2).padStart(11)} | ${(g50 / r50).toFixed(2).padStart(8)}x | ${r90.toFixed(2).padStart(8)} | ${g90.toFixed(2).padStart(11)} | ${(g90 / r90).toFixed(2).padStart(8)}x`,
    );
  }
} finally {
  gateway.child.kill('SIGTERM');
  sim.child.kill('SIGTERM');
  await Promise.all([once(gateway.child, 'exit'), once(sim.child, 'exit')]);
}
