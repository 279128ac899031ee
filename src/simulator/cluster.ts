import type { Allocation, Job, NomadNode, TaskStateValue } from '../nomad/types.ts';
import { newEvaluation } from './alloc-factory.ts';
import { rfc3339FromNanos, type Clock } from './clock.ts';
import { clientStatusOf, isTerminal, setClientStatus } from './client-status.ts';
import { deregisterServices, runTask, startOnClient } from './client-runner.ts';
import { ClusterError, touch, type ClusterCore, type Timing } from './cluster-core.ts';
import { toJob, type JobSpec } from './job-spec.ts';
import type { Random } from './random.ts';
import { completeEval, place, replaceAllocation, scheduleJobStop, scheduleStop } from './scheduler.ts';
import { StepQueue } from './step-queue.ts';
import { jobKey, type Store, type TableName } from './store.ts';
import { appendEvents, taskEvent } from './task-events.ts';

export { ClusterError, type Timing } from './cluster-core.ts';

export interface NodeSpec {
  name?: string;
  datacenter?: string;
  nodeClass?: string;
  meta?: Record<string, string>;
}

export interface ClusterOptions {
  store: Store;
  clock: Clock;
  random: Random;
  region?: string;
  timing?: Partial<Timing>;
}

const ALLOC_TABLES: readonly TableName[] = ['allocs'];

/**
 * The simulated cluster: what Nomad's servers, scheduler (`scheduler.ts`) and clients
 * (`client-runner.ts`) do to the state store. API-facing operations validate like Nomad and
 * throw ClusterError; test controls (`failTask`, `loseNode`, ...) change the world directly.
 * Asynchronous steps run on a StepQueue, so `idle()` can wait for them and `dispose()` can
 * cancel them.
 */
export class Cluster implements ClusterCore {
  readonly store: Store;
  readonly region: string;
  readonly random: Random;
  readonly timing: Timing;
  readonly steps = new StepQueue();
  readonly #clock: Clock;
  #nextNode = 0;

  constructor(options: ClusterOptions) {
    this.store = options.store;
    this.#clock = options.clock;
    this.random = options.random;
    this.region = options.region ?? 'global';
    this.timing = { schedulerMs: 20, clientMs: 20, ...options.timing };
  }

  newId(): string {
    return this.random.uuid();
  }

  now(): bigint {
    return this.#clock.nowNanos();
  }

  // ---- setup ---------------------------------------------------------------------------------

  createNamespace(name: string, description = ''): void {
    this.store.commit(['namespaces'], (index) => {
      this.store.namespaces.set(name, { Name: name, Description: description, CreateIndex: index, ModifyIndex: index });
    });
  }

  createNode(spec: NodeSpec = {}): NomadNode {
    const n = ++this.#nextNode;
    let node: NomadNode | undefined;
    this.store.commit(['nodes'], (index) => {
      node = {
        ID: this.newId(),
        Name: spec.name ?? `client-${n}`,
        Datacenter: spec.datacenter ?? 'dc1',
        NodeClass: spec.nodeClass ?? '',
        NodePool: 'default',
        HTTPAddr: `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}:4646`,
        Status: 'ready',
        StatusDescription: '',
        SchedulingEligibility: 'eligible',
        DrainStrategy: null,
        Attributes: { 'kernel.name': 'linux', 'cpu.arch': 'amd64', 'os.name': 'debian', 'nomad.version': '2.0.6' },
        Meta: spec.meta ?? null,
        NodeResources: { Cpu: { CpuShares: 8000, TotalCpuCores: 4 }, Memory: { MemoryMB: 16_000 }, Disk: { DiskMB: 100_000 } },
        StatusUpdatedAt: Number(this.now() / 1_000_000_000n),
        CreateIndex: index,
        ModifyIndex: index,
      };
      this.store.nodes.set(node.ID, node);
    });
    if (node === undefined) throw new Error('unreachable');
    return node;
  }

  /**
   * Registers a job and places its allocations at once (two raft writes: register, then plan);
   * clients then start them asynchronously. Returns the placed allocations, still pending.
   */
  createJob(spec: JobSpec): { job: Job; allocations: Allocation[] } {
    const namespace = spec.namespace ?? 'default';
    if (!this.store.namespaces.has(namespace)) this.createNamespace(namespace);
    let job: Job | undefined;
    let evalId = '';
    this.store.commit(['jobs', 'evals'], (index) => {
      job = toJob(spec, { region: this.region, index, now: this.now() });
      this.store.jobs.set(jobKey(namespace, job.ID), job);
      const evaluation = newEvaluation({ id: this.newId(), job, triggeredBy: 'job-register', index, now: this.now() });
      evalId = evaluation.ID;
      this.store.evals.set(evaluation.ID, evaluation);
    });
    if (job === undefined) throw new Error('unreachable');
    const registered = job;
    const placed: Allocation[] = [];
    this.store.commit(['allocs', 'evals'], (index) => {
      const deploymentId = this.newId();
      for (const group of registered.TaskGroups ?? []) {
        for (let slot = 0; slot < group.Count; slot++) {
          placed.push(place(this, { job: registered, groupName: group.Name, slot, evalId, index, deploymentId }));
        }
      }
      completeEval(this, evalId, index);
    });
    for (const alloc of placed) startOnClient(this, alloc.ID);
    return { job: registered, allocations: placed };
  }

  /**
   * Purges a job (`DELETE /v1/job/:id?purge=true`): it leaves the state store at once, with a
   * `job-deregister` evaluation; the scheduler then stops its allocations, which stay in the
   * state store. Registering the id again makes a new job with a new CreateIndex. An unknown job
   * is a no-op, as in Nomad. Returns the evaluation's id.
   */
  purgeJob(id: string, namespace = 'default'): string | undefined {
    const job = this.store.job(namespace, id);
    if (job === undefined) return undefined;
    let evalId = '';
    this.store.commit(['jobs', 'evals'], (index) => {
      this.store.jobs.delete(jobKey(namespace, id));
      // Nomad gives every deregistration eval the service type, whatever the job's.
      const evaluation = { ...newEvaluation({ id: this.newId(), job, triggeredBy: 'job-deregister', index, now: this.now() }), Type: 'service' };
      evalId = evaluation.ID;
      this.store.evals.set(evaluation.ID, evaluation);
    });
    this.steps.later(this.timing.schedulerMs, () => scheduleJobStop(this, { namespace, id }, evalId));
    return evalId;
  }

  // ---- API operations -------------------------------------------------------------------------

  /**
   * `POST /v1/allocation/:id/stop`: one write sets DesiredTransition and creates an `alloc-stop`
   * evaluation; the scheduler later stops the allocation and, for service jobs, replaces it.
   */
  stopAllocation(id: string, options: { noShutdownDelay: boolean; reschedule: boolean }): { evalId: string; index: bigint } {
    const alloc = this.#mustAlloc(id, 'allocation not found');
    const job = alloc.Job;
    if (job === null) throw new ClusterError(500, 'allocation has no job');
    let evalId = '';
    const index = this.store.commit(['allocs', 'evals'], (index) => {
      alloc.DesiredTransition = {
        ...alloc.DesiredTransition,
        Migrate: true,
        NoShutdownDelay: options.noShutdownDelay,
        Reschedule: options.reschedule,
      };
      touch(this, alloc, index, { server: true });
      const evaluation = newEvaluation({ id: this.newId(), job, triggeredBy: 'alloc-stop', index, now: this.now() });
      evalId = evaluation.ID;
      this.store.evals.set(evaluation.ID, evaluation);
    });
    this.steps.later(this.timing.schedulerMs, () => scheduleStop(this, alloc.ID, evalId));
    return { evalId, index };
  }

  /** Signal one task (or every task): a `Signaling` event each. Validation happens in the route. */
  signalTasks(id: string, taskNames: readonly string[], signal: string): void {
    const alloc = this.#mustAlloc(id, `Unknown allocation "${id}"`);
    this.store.commit(ALLOC_TABLES, (index) => {
      for (const name of taskNames) {
        const state = alloc.TaskStates?.[name];
        if (state === undefined) continue;
        appendEvents(state, taskEvent('Signaling', this.now(), { TaskSignal: signal, TaskSignalReason: 'User requested signal' }));
      }
      touch(this, alloc, index);
    });
  }

  /**
   * Restart tasks in place: `Restart Signaled`, `Terminated` and `Restarting` at once (the restart
   * counter moves), then `Started` after a client delay.
   */
  restartTasks(id: string, taskNames: readonly string[], reason: string): void {
    const alloc = this.#mustAlloc(id, `Unknown allocation "${id}"`);
    this.store.commit(ALLOC_TABLES, (index) => {
      for (const name of taskNames) {
        const state = alloc.TaskStates?.[name];
        if (state === undefined) continue;
        const now = this.now();
        appendEvents(
          state,
          taskEvent('Restart Signaled', now, { RestartReason: reason }),
          taskEvent('Terminated', now, { ExitCode: 0, Signal: 15 }),
          taskEvent('Restarting', now, { RestartReason: reason, StartDelay: 0n }),
        );
        state.State = 'pending';
        state.Restarts += 1;
        state.LastRestart = rfc3339FromNanos(now);
      }
      touch(this, alloc, index);
    });
    this.steps.later(this.timing.clientMs, () => {
      const current = this.store.allocs.get(id);
      if (current === undefined || isTerminal(current)) return;
      this.store.commit(ALLOC_TABLES, (index) => {
        for (const name of taskNames) {
          const state = current.TaskStates?.[name];
          if (state === undefined || state.State !== 'pending') continue;
          runTask(state, this.now());
        }
        setClientStatus(current, clientStatusOf(current));
        touch(this, current, index);
      });
    });
  }

  // ---- test controls --------------------------------------------------------------------------

  /** Sets a task's state directly; the allocation's client status follows, as a client reports it. */
  setTaskState(allocId: string, taskName: string, state: TaskStateValue, options: { failed?: boolean } = {}): void {
    const alloc = this.#mustAlloc(allocId, 'alloc not found');
    const task = alloc.TaskStates?.[taskName];
    if (task === undefined) throw new ClusterError(500, 'Task not found');
    this.store.commit(ALLOC_TABLES, (index) => {
      const now = this.now();
      if (state === 'running') runTask(task, now);
      if (state === 'dead') {
        task.State = 'dead';
        task.Failed = options.failed ?? false;
        task.FinishedAt = rfc3339FromNanos(now);
      }
      if (state === 'pending') task.State = 'pending';
      setClientStatus(alloc, clientStatusOf(alloc));
      touch(this, alloc, index);
    });
  }

  /**
   * A task exits non-zero and is not restarted: its siblings are killed, the allocation fails,
   * its services are deregistered, and a service job's allocation is rescheduled.
   */
  failTask(allocId: string, taskName: string, exitCode = 1): void {
    const alloc = this.#mustAlloc(allocId, 'alloc not found');
    if (alloc.TaskStates?.[taskName] === undefined) throw new ClusterError(500, 'Task not found');
    this.store.commit(['allocs', 'services'], (index) => {
      const now = this.now();
      for (const [name, state] of Object.entries(alloc.TaskStates ?? {})) {
        if (name === taskName) {
          appendEvents(
            state,
            taskEvent('Terminated', now, { ExitCode: exitCode }),
            taskEvent('Not Restarting', now, {
              FailsTask: true,
              RestartReason: 'Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"',
            }),
          );
          state.Failed = true;
        } else if (state.State !== 'dead') {
          appendEvents(state, taskEvent('Sibling Task Failed', now, { FailedSibling: taskName }), taskEvent('Killed', now));
        }
        state.State = 'dead';
        state.FinishedAt = rfc3339FromNanos(now);
      }
      setClientStatus(alloc, 'failed');
      deregisterServices(this.store, alloc.ID);
      touch(this, alloc, index);
    });
    if (alloc.Job?.Type === 'service') this.steps.later(this.timing.schedulerMs, () => replaceAllocation(this, alloc.ID, 'alloc-failure'));
  }

  /** A node goes down: its allocations are lost and a service job's are replaced elsewhere. */
  loseNode(nodeId: string): void {
    const node = this.store.nodes.get(nodeId);
    if (node === undefined) throw new ClusterError(404, 'node not found');
    const lost = [...this.store.allocs.values()].filter((a) => a.NodeID === nodeId && !isTerminal(a));
    this.store.commit(['nodes', 'allocs', 'services'], (index) => {
      node.Status = 'down';
      node.StatusUpdatedAt = Number(this.now() / 1_000_000_000n);
      node.ModifyIndex = index;
      for (const alloc of lost) {
        alloc.DesiredStatus = 'stop';
        alloc.DesiredDescription = 'alloc is lost since its node is down';
        setClientStatus(alloc, 'lost');
        deregisterServices(this.store, alloc.ID);
        touch(this, alloc, index, { server: true });
      }
    });
    for (const alloc of lost) {
      if (alloc.Job?.Type === 'service') this.steps.later(this.timing.schedulerMs, () => replaceAllocation(this, alloc.ID, 'node-update'));
    }
  }

  /**
   * Holds every scheduler and client step until the returned release is called, so a test can
   * look at the state between an API call and what the cluster does next.
   */
  hold(): () => void {
    return this.steps.hold();
  }

  /** Resolves once no scheduler or client step is pending (held steps count as pending). */
  idle(): Promise<void> {
    return this.steps.idle();
  }

  /** Cancels every pending step; the cluster does nothing more on its own. */
  dispose(): void {
    this.steps.dispose();
  }

  #mustAlloc(id: string, notFound: string): Allocation {
    const alloc = this.store.allocs.get(id);
    if (alloc === undefined) throw new ClusterError(404, notFound);
    return alloc;
  }
}
