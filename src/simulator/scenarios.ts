import { isTerminal } from './client-status.ts';
import type { Cluster } from './cluster.ts';
import type { JobSpec } from './job-spec.ts';
import { createRandom } from './random.ts';

export const SCENARIOS = ['empty', 'demo'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

const DEMO_JOBS: JobSpec[] = [
  {
    id: 'web',
    meta: { owner: 'frontend-team' },
    groups: [
      {
        name: 'frontend',
        count: 40,
        tasks: [
          { name: 'nginx', services: [{ name: 'web', portLabel: 'http', tags: ['public', 'http'] }] },
          { name: 'log-shipper', driver: 'exec' },
        ],
      },
    ],
  },
  { id: 'api', meta: { owner: 'platform' }, groups: [{ name: 'api', count: 30, tasks: [{ name: 'api', services: [{ name: 'api', tags: ['v2'] }] }] }] },
  { id: 'nightly-report', type: 'batch', groups: [{ name: 'report', count: 20, tasks: [{ name: 'report', driver: 'raw_exec' }] }] },
  {
    id: 'payments',
    namespace: 'prod',
    priority: 80,
    meta: { owner: 'payments-team', tier: 'critical' },
    groups: [
      {
        name: 'payments',
        count: 60,
        tasks: [
          { name: 'payments', services: [{ name: 'payments', portLabel: 'grpc', tags: ['grpc'] }] },
          { name: 'envoy', services: [{ name: 'payments-sidecar', portLabel: 'envoy' }] },
        ],
      },
    ],
  },
  { id: 'cache', namespace: 'prod', groups: [{ name: 'cache', count: 30, tasks: [{ name: 'redis', services: [{ name: 'redis-cache', portLabel: 'db', tags: ['cache'] }] }] }] },
  { id: 'payments', namespace: 'staging', meta: { owner: 'payments-team' }, groups: [{ name: 'payments', count: 20, tasks: [{ name: 'payments' }] }] },
  { id: 'worker', namespace: 'staging', type: 'batch', groups: [{ name: 'worker', count: 40, tasks: [{ name: 'worker', driver: 'raw_exec' }] }] },
];

/** Loads a named scenario into an empty cluster. */
export function applyScenario(cluster: Cluster, name: ScenarioName): void {
  cluster.createNamespace('default', 'Default shared namespace');
  if (name === 'empty') {
    cluster.createNode({ name: 'client-1' });
    return;
  }
  cluster.createNamespace('prod', 'Production services');
  cluster.createNamespace('staging', 'Pre-production');
  for (let i = 0; i < 5; i++) cluster.createNode({ datacenter: i < 3 ? 'dc1' : 'dc2', nodeClass: i % 2 === 0 ? 'general' : 'compute' });
  for (const job of DEMO_JOBS) cluster.createJob(job);
}

/**
 * Slow background change: every `intervalMs` one running allocation is restarted, signalled,
 * stopped (and replaced) or fails a task (and is rescheduled). Returns a function that stops it.
 */
export function startChurn(cluster: Cluster, intervalMs: number, seed = 7): () => void {
  const random = createRandom(seed);
  const tick = (): void => {
    const running = [...cluster.store.allocs.values()].filter((a) => !isTerminal(a) && a.ClientStatus === 'running');
    if (running.length === 0) return;
    const alloc = random.pick(running);
    const tasks = Object.keys(alloc.TaskStates ?? {});
    const task = random.pick(tasks);
    const roll = random.next();
    if (roll < 0.4) cluster.restartTasks(alloc.ID, [task], 'User requested task to restart');
    else if (roll < 0.6) cluster.signalTasks(alloc.ID, [task], 'SIGHUP');
    else if (roll < 0.85) cluster.stopAllocation(alloc.ID, { noShutdownDelay: false, reschedule: false });
    else cluster.failTask(alloc.ID, task, 137);
  };
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
