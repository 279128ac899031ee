/**
 * `npm run simulator`: the Nomad-compatible simulator alone, with the demo cluster and slow
 * churn, on 127.0.0.1:4646. Settings: SIMULATOR_HOST, SIMULATOR_PORT, SIMULATOR_SCENARIO
 * (`demo` | `empty` | `scale`), SIMULATOR_ALLOCATIONS (how many the `scale` scenario holds),
 * SIMULATOR_CHURN_MS (0 = off), and SIMULATOR_ACL=true with SIMULATOR_MANAGEMENT_TOKEN (the
 * management secret, never printed) to turn ACLs on.
 */
import { addScaleAllocations, DEFAULT_SCALE_ALLOCATIONS, isScenarioName, SCENARIOS, startChurn } from './scenarios.ts';
import { startSimulator } from './server.ts';

function fail(message: string): never {
  console.error(`simulator: ${message}`);
  process.exit(2);
}

const env = process.env;
const port = Number(env['SIMULATOR_PORT'] ?? '4646');
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`SIMULATOR_PORT must be a port number, got ${env['SIMULATOR_PORT']}`);
const scenario = env['SIMULATOR_SCENARIO'] ?? 'demo';
if (!isScenarioName(scenario)) fail(`unknown SIMULATOR_SCENARIO "${scenario}"; known: ${SCENARIOS.join(', ')}`);
const churnMs = Number(env['SIMULATOR_CHURN_MS'] ?? '3000');
if (!Number.isFinite(churnMs) || churnMs < 0) fail(`SIMULATOR_CHURN_MS must be a number of milliseconds, got ${env['SIMULATOR_CHURN_MS']}`);
const allocationsText = env['SIMULATOR_ALLOCATIONS'];
if (allocationsText !== undefined && scenario !== 'scale') fail('SIMULATOR_ALLOCATIONS applies to SIMULATOR_SCENARIO=scale only');
const allocations = allocationsText === undefined ? DEFAULT_SCALE_ALLOCATIONS : Number(allocationsText);
if (allocationsText !== undefined && (!/^\d+$/.test(allocationsText) || !Number.isSafeInteger(allocations))) {
  fail(`SIMULATOR_ALLOCATIONS must be a whole number of allocations, got ${allocationsText}`);
}
const scale = scenario === 'scale';

const acl = env['SIMULATOR_ACL'] === 'true';
const managementToken = env['SIMULATOR_MANAGEMENT_TOKEN'];
if (acl && (managementToken === undefined || managementToken === '')) {
  fail('SIMULATOR_ACL=true needs SIMULATOR_MANAGEMENT_TOKEN (the secret to use as the management token)');
}

const sim = await startSimulator({
  host: env['SIMULATOR_HOST'] ?? '127.0.0.1',
  port,
  // startSimulator's `scale` always holds the default count: the count asked for is added here,
  // on top of `empty` (which is where `scale` starts from too).
  scenario: scale ? 'empty' : scenario,
  acl,
  managementToken,
  // Churn on the scale cluster starts only once it has settled, below: churn steps overlapping
  // one another would keep the cluster from ever being idle.
  churn: churnMs > 0 && !scale ? { intervalMs: churnMs } : undefined,
  timing: { schedulerMs: 500, clientMs: 1500 },
});
let stopScaleChurn = (): void => undefined;
if (scale) {
  addScaleAllocations(sim.cluster, allocations);
  // The clients start the allocations in two steps of 1.5 s; announce the simulator only once
  // they run, so whoever waits for the line below (the benchmark) reads a still cluster.
  await sim.cluster.idle();
  if (churnMs > 0) stopScaleChurn = startChurn(sim.cluster, churnMs);
}
console.log(`Nomad simulator listening on ${sim.url} (scenario ${scenario}, ${sim.store.allocs.size} allocations)`);
if (sim.acl.enabled) console.log('ACLs on: use SIMULATOR_MANAGEMENT_TOKEN as X-Nomad-Token');

const shutdown = (): void => {
  stopScaleChurn();
  void sim.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
