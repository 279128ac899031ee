/**
 * `npm run bench`: every performance claim of the README, measured side by side with its baseline
 * in the same run, on this machine. Starts what it measures itself (simulator, gateway replicas,
 * redis-server) as separate processes, writes `bench/results/<date>.json` and prints a Markdown
 * table. `--quick` runs every scenario with tiny sizes (the test suite does, so this never rots);
 * its figures mean nothing. `--only <group>[,<group>]` runs some groups; `--out <dir>` writes elsewhere.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startFloorProcess, startGatewayProcess, startRedisProcess, startSimulatorProcess, startWsFloorProcess, type BenchProcess } from './processes.ts';
import { markdownTable, type BenchRun, type Figure } from './report.ts';
import { runExecScenarios } from './scenarios/exec.ts';
import { runLiveScenarios } from './scenarios/live.ts';
import { runQueryScenarios } from './scenarios/query.ts';
import { runScaleScenarios } from './scenarios/scale.ts';

interface Group {
  name: string;
  run(quick: boolean, started: BenchProcess[]): Promise<Figure[]>;
}

/** The simulator with the demo cluster (still: no churn) and one gateway over it, both added to `started`. */
async function demoClusterWithGateway(started: BenchProcess[]): Promise<{ sim: BenchProcess & { url: string }; gateway: BenchProcess & { url: string } }> {
  const sim = await startSimulatorProcess({ scenario: 'demo' });
  started.push(sim);
  const gateway = await startGatewayProcess({ nomadAddr: sim.url });
  started.push(gateway);
  return { sim, gateway };
}

const GROUPS: Group[] = [
  {
    name: 'query',
    run: async (quick, started) => {
      const { sim, gateway } = await demoClusterWithGateway(started);
      const floorForward = await startFloorProcess('forward', sim.url);
      started.push(floorForward);
      const floorProject = await startFloorProcess('project', sim.url);
      started.push(floorProject);
      // Let the demo cluster's allocations settle, so both sides read the same data.
      await sleep(quick ? 500 : 3_000);
      return runQueryScenarios({ simUrl: sim.url, gatewayUrl: gateway.url, floorForwardUrl: floorForward.url, floorProjectUrl: floorProject.url, quick });
    },
  },
  {
    name: 'exec',
    run: async (quick, started) => {
      const { sim, gateway } = await demoClusterWithGateway(started);
      // The demo cluster's allocations take a few seconds to run (the scenario waits for a running task).
      await sleep(quick ? 500 : 3_000);
      return runExecScenarios({ simUrl: sim.url, gatewayUrl: gateway.url, quick });
    },
  },
  {
    name: 'live',
    run: async (quick, started) => {
      const sim = await startSimulatorProcess({ scenario: 'demo' });
      started.push(sim);
      const redis = await startRedisProcess();
      started.push(redis);
      // Every subscriber is anonymous: one rate-limit bucket, so lift the per-token limit.
      const env = { RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE: '1000000', WATCH_MAX_SUBSCRIPTIONS: '20000' };
      const replicas = [];
      for (const name of ['replica-a', 'replica-b']) {
        const replica = await startGatewayProcess({ nomadAddr: sim.url, redisUrl: redis.url, name, env });
        started.push(replica);
        replicas.push(replica);
      }
      const floor = await startWsFloorProcess();
      started.push(floor);
      await sleep(quick ? 500 : 3_000);
      return runLiveScenarios({ simUrl: sim.url, replicas, floor, quick });
    },
  },
  {
    name: 'scale',
    run: (quick, started) => runScaleScenarios({ quick }, started),
  },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
  },
});
const quick = values.quick;
const only = values.only?.split(',').map((name) => name.trim());
const unknown = only?.filter((name) => !GROUPS.some((group) => group.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown group(s) ${unknown.join(', ')}; known: ${GROUPS.map((group) => group.name).join(', ')}`);
  process.exit(2);
}

const began = performance.now();
const figures: Figure[] = [];
for (const group of GROUPS) {
  if (only !== undefined && !only.includes(group.name)) continue;
  const started: BenchProcess[] = [];
  try {
    console.error(`bench: ${group.name}${quick ? ' (quick)' : ''}…`);
    figures.push(...(await group.run(quick, started)));
  } finally {
    await Promise.all(started.map((part) => part.stop()));
  }
}

const cpu = cpus();
const run: BenchRun = {
  date: new Date().toISOString(),
  quick,
  machine: {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
  },
  durationSeconds: Math.round((performance.now() - began) / 1000),
  figures,
};
mkdirSync(values.out, { recursive: true });
const file = join(values.out, `${run.date.slice(0, 10)}${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
process.stdout.write(markdownTable(run));
console.error(`bench: wrote ${file}`);
