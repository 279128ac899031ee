import { isTerminal } from './client-status.ts';
import type { Cluster } from './cluster.ts';
import type { JobSpec, TaskSpec } from './job-spec.ts';
import { createRandom } from './random.ts';

export const SCENARIOS = ['empty', 'demo', 'scale'] as const;
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

/** Allocations of the `scale` scenario when no count is given (`SIMULATOR_ALLOCATIONS`). */
export const DEFAULT_SCALE_ALLOCATIONS = 100_000;

/** Allocations per scale job: a large service or batch job, so 100 000 allocations make 400 jobs. */
const SCALE_JOB_SIZE = 250;

/** The scale scenario's nodes are spread over these, and every scale job may run in any of them. */
const SCALE_DATACENTERS = ['dc1', 'dc2', 'dc3'];

interface ScaleJobKind extends Omit<JobSpec, 'id' | 'groups' | 'count' | 'datacenters'> {
  /** The job id's stem, and the group's name. */
  name: string;
  tasks: TaskSpec[];
}

/**
 * The kinds of job a large cluster runs, cycled through by the scale scenario: services with and
 * without sidecars and Nomad services, batch work with raw_exec and docker, over four namespaces.
 */
const SCALE_JOB_KINDS: readonly ScaleJobKind[] = [
  {
    name: 'web',
    namespace: 'prod',
    priority: 70,
    meta: { owner: 'frontend-team' },
    tasks: [{ name: 'nginx', services: [{ name: 'web', portLabel: 'http', tags: ['public'] }] }, { name: 'log-shipper', driver: 'exec' }],
  },
  { name: 'api', namespace: 'prod', priority: 60, tasks: [{ name: 'api', services: [{ name: 'api', tags: ['v2'] }] }] },
  { name: 'etl', namespace: 'analytics', type: 'batch', tasks: [{ name: 'etl', driver: 'raw_exec' }] },
  { name: 'preview', namespace: 'staging', tasks: [{ name: 'preview', services: [{ name: 'preview' }] }] },
  { name: 'report', namespace: 'default', type: 'batch', tasks: [{ name: 'report' }] },
];

/**
 * Adds `total` allocations to the cluster as a large cluster holds them: spread over the
 * `prod`, `staging`, `analytics` and `default` namespaces, jobs of 250 allocations (the last one
 * takes the remainder) and one ready node per 400 allocations (between 3 and 250; the scheduler
 * picks a random ready node per placement, so more nodes would only slow the setup down). Goes
 * through the ordinary Cluster API (register, plan, then client steps), so the allocations are
 * exactly what the API makes; they are pending until the clients' steps have run
 * (`cluster.idle()`), then running with their task events and service registrations.
 */
export function addScaleAllocations(cluster: Cluster, total: number): void {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`allocations must be an integer ≥ 0, got ${total}`);
  const namespaces: [string, string][] = [
    ['prod', 'Production services'],
    ['staging', 'Pre-production'],
    ['analytics', 'Batch analytics'],
  ];
  for (const [name, description] of namespaces) {
    if (!cluster.store.namespaces.has(name)) cluster.createNamespace(name, description);
  }
  const nodes = Math.min(250, Math.max(3, Math.ceil(total / 400)));
  for (let i = 0; i < nodes; i++) {
    cluster.createNode({ datacenter: SCALE_DATACENTERS[i % SCALE_DATACENTERS.length], nodeClass: i % 4 === 0 ? 'compute' : 'general' });
  }
  for (let placed = 0, n = 0; placed < total; n++) {
    const kind = SCALE_JOB_KINDS[n % SCALE_JOB_KINDS.length];
    if (kind === undefined) throw new Error('unreachable');
    const count = Math.min(SCALE_JOB_SIZE, total - placed);
    const { name, tasks, ...rest } = kind;
    // Ids like `web-0012`: unique per namespace, and they sort as they were created.
    cluster.createJob({ ...rest, id: `${name}-${String(n).padStart(4, '0')}`, datacenters: SCALE_DATACENTERS, groups: [{ name, count, tasks }] });
    placed += count;
  }
}

/** Loads a named scenario into an empty cluster (`scale` with its default count; see `addScaleAllocations`). */
export function applyScenario(cluster: Cluster, name: ScenarioName): void {
  cluster.createNamespace('default', 'Default shared namespace');
  if (name === 'empty' || name === 'scale') {
    cluster.createNode({ name: 'client-1' });
    if (name === 'scale') addScaleAllocations(cluster, DEFAULT_SCALE_ALLOCATIONS);
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
