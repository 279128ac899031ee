import type { Allocation, Job, NomadNode, TaskState, TaskStateValue } from '../nomad/types.ts';
import { newAllocation, newEvaluation, portLabels, serviceRegistrations } from './alloc-factory.ts';
import { rfc3339FromNanos, type Clock } from './clock.ts';
import { clientStatusOf, isTerminal, setClientStatus } from './client-status.ts';
import { toJob, type JobSpec } from './job-spec.ts';
import type { Random } from './random.ts';
import { jobKey, type Store, type TableName } from './store.ts';
import { appendEvents, newTaskState, taskEvent } from './task-events.ts';

/** Delays of the simulated scheduler and clients. */
export interface Timing {
  /** From an evaluation to the scheduler's plan. @default 20 */
  schedulerMs: number;
  /** Between client-side steps of an allocation (received → running, killing → dead). @default 20 */
  clientMs: number;
}

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

/** Thrown for a request the cluster refuses; `status` and `message` are what Nomad answers. */
export class ClusterError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

const ALLOC_TABLES: readonly TableName[] = ['allocs'];

/**
 * The simulated cluster: what Nomad's servers, scheduler and clients do to the state store.
 * API-facing operations validate like Nomad and throw ClusterError; test controls
 * (`failTask`, `loseNode`, ...) change the world directly. Asynchronous steps run on tracked
 * timers, so `idle()` can wait for them and `dispose()` can cancel them.
 */
export class Cluster {
  readonly store: Store;
  readonly region: string;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #timing: Timing;
  readonly #timers = new Set<NodeJS.Timeout>();
  #idleWaiters: (() => void)[] = [];
  /** Steps scheduled while held, waiting for the release. */
  #held: (() => void)[] | undefined;
  #nextNode = 0;
  #disposed = false;

  constructor(options: ClusterOptions) {
    this.store = options.store;
    this.#clock = options.clock;
    this.#random = options.random;
    this.region = options.region ?? 'global';
    this.#timing = { schedulerMs: 20, clientMs: 20, ...options.timing };
  }

  newId(): string {
    return this.#random.uuid();
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
        Drain: false,
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
          placed.push(this.#place({ job: registered, groupName: group.Name, slot, evalId, index, deploymentId }));
        }
      }
      this.#completeEval(evalId, index);
    });
    for (const alloc of placed) this.#clientStart(alloc.ID);
    return { job: registered, allocations: placed };
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
      this.#touch(alloc, index, { server: true });
      const evaluation = newEvaluation({ id: this.newId(), job, triggeredBy: 'alloc-stop', index, now: this.now() });
      evalId = evaluation.ID;
      this.store.evals.set(evaluation.ID, evaluation);
    });
    this.#later(this.#timing.schedulerMs, () => this.#scheduleStop(alloc.ID, evalId));
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
      this.#touch(alloc, index);
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
      this.#touch(alloc, index);
    });
    this.#later(this.#timing.clientMs, () => {
      const current = this.store.allocs.get(id);
      if (current === undefined || isTerminal(current)) return;
      this.store.commit(ALLOC_TABLES, (index) => {
        for (const name of taskNames) {
          const state = current.TaskStates?.[name];
          if (state === undefined || state.State !== 'pending') continue;
          this.#runTask(state);
        }
        setClientStatus(current, clientStatusOf(current));
        this.#touch(current, index);
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
      if (state === 'running') this.#runTask(task);
      if (state === 'dead') {
        task.State = 'dead';
        task.Failed = options.failed ?? false;
        task.FinishedAt = rfc3339FromNanos(now);
      }
      if (state === 'pending') task.State = 'pending';
      setClientStatus(alloc, clientStatusOf(alloc));
      this.#touch(alloc, index);
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
      this.#deregisterServices(alloc.ID);
      this.#touch(alloc, index);
    });
    if (alloc.Job?.Type === 'service') this.#later(this.#timing.schedulerMs, () => this.#reschedule(alloc.ID));
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
        this.#deregisterServices(alloc.ID);
        this.#touch(alloc, index, { server: true });
      }
    });
    for (const alloc of lost) {
      if (alloc.Job?.Type === 'service') this.#later(this.#timing.schedulerMs, () => this.#replace(alloc.ID));
    }
  }

  /**
   * Holds every scheduler and client step until the returned release is called, so a test can
   * look at the state between an API call and what the cluster does next.
   */
  hold(): () => void {
    this.#held ??= [];
    return () => {
      const queued = this.#held ?? [];
      this.#held = undefined;
      for (const schedule of queued) schedule();
      this.#notifyIdle();
    };
  }

  /** Resolves once no scheduler or client step is pending (held steps count as pending). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Cancels every pending step; the cluster does nothing more on its own. */
  dispose(): void {
    this.#disposed = true;
    this.#held = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#notifyIdle();
  }

  /** Runs `step` after `ms`, tracked for `idle()` and `dispose()`. */
  later(ms: number, step: () => void): void {
    this.#later(ms, step);
  }

  // ---- internals ------------------------------------------------------------------------------

  #later(ms: number, step: () => void): void {
    if (this.#disposed) return;
    if (this.#held !== undefined) {
      this.#held.push(() => this.#later(ms, step));
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      step();
      this.#notifyIdle();
    }, ms);
    this.#timers.add(timer);
  }

  #isIdle(): boolean {
    return this.#timers.size === 0 && (this.#held === undefined || this.#held.length === 0);
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  #mustAlloc(id: string, notFound: string): Allocation {
    const alloc = this.store.allocs.get(id);
    if (alloc === undefined) throw new ClusterError(404, notFound);
    return alloc;
  }

  /** Marks an allocation as written at `index`; server-side changes also move AllocModifyIndex. */
  #touch(alloc: Allocation, index: bigint, options: { server?: boolean } = {}): void {
    alloc.ModifyIndex = index;
    alloc.ModifyTime = this.now();
    if (options.server === true) alloc.AllocModifyIndex = index;
  }

  #readyNodes(): NomadNode[] {
    return [...this.store.nodes.values()].filter((n) => n.Status === 'ready' && n.SchedulingEligibility === 'eligible');
  }

  #place(fields: { job: Job; groupName: string; slot: number; evalId: string; index: bigint; deploymentId: string }): Allocation {
    const nodes = this.#readyNodes();
    if (nodes.length === 0) throw new ClusterError(500, 'no ready nodes to place allocations on');
    const group = fields.job.TaskGroups?.find((g) => g.Name === fields.groupName);
    if (group === undefined) throw new Error(`job ${fields.job.ID} has no group ${fields.groupName}`);
    const alloc = newAllocation({
      id: this.newId(),
      evalId: fields.evalId,
      job: fields.job,
      group,
      slot: fields.slot,
      node: this.#random.pick(nodes),
      index: fields.index,
      now: this.now(),
      ports: portLabels(group).map(() => 20_000 + this.#random.int(12_000)),
      deploymentId: fields.deploymentId,
      nodesEvaluated: nodes.length,
    });
    this.store.allocs.set(alloc.ID, alloc);
    return alloc;
  }

  #completeEval(evalId: string, index: bigint): void {
    const evaluation = this.store.evals.get(evalId);
    if (evaluation === undefined) return;
    evaluation.Status = 'complete';
    evaluation.ModifyIndex = index;
    evaluation.ModifyTime = this.now();
  }

  #runTask(state: TaskState): void {
    const now = this.now();
    appendEvents(state, taskEvent('Started', now));
    state.State = 'running';
    state.Failed = false;
    state.StartedAt = rfc3339FromNanos(now);
    state.FinishedAt = null;
  }

  /** Client side of a new allocation: received and set up, then running with its services. */
  #clientStart(allocId: string): void {
    this.#later(this.#timing.clientMs, () => {
      const alloc = this.store.allocs.get(allocId);
      if (alloc === undefined || isTerminal(alloc)) return;
      this.store.commit(ALLOC_TABLES, (index) => {
        const states: Record<string, TaskState> = {};
        for (const task of alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup)?.Tasks ?? []) {
          const state = newTaskState();
          const now = this.now();
          appendEvents(
            state,
            taskEvent('Received', now),
            taskEvent('Task Setup', now, { Message: 'Building Task Directory', Details: { message: 'Building Task Directory' } }),
          );
          if (task.Driver === 'docker') {
            const image = typeof task.Config?.['image'] === 'string' ? task.Config['image'] : task.Name;
            appendEvents(state, taskEvent('Driver', now, { DriverMessage: `Downloading image ${image}` }));
          }
          states[task.Name] = state;
        }
        alloc.TaskStates = states;
        setClientStatus(alloc, 'pending');
        this.#touch(alloc, index);
      });
      this.#later(this.#timing.clientMs, () => this.#clientRunning(allocId));
    });
  }

  #clientRunning(allocId: string): void {
    const alloc = this.store.allocs.get(allocId);
    if (alloc === undefined || isTerminal(alloc)) return;
    const node = this.store.nodes.get(alloc.NodeID);
    this.store.commit(['allocs', 'services'], (index) => {
      for (const state of Object.values(alloc.TaskStates ?? {})) {
        if (state.State === 'pending') this.#runTask(state);
      }
      setClientStatus(alloc, clientStatusOf(alloc));
      if (alloc.DeploymentID !== '') {
        alloc.DeploymentStatus = { Healthy: true, Timestamp: rfc3339FromNanos(this.now()), Canary: false, ModifyIndex: index };
      }
      if (node !== undefined) {
        for (const registration of serviceRegistrations(alloc, node, index)) this.store.services.set(registration.ID, registration);
      }
      this.#touch(alloc, index);
    });
  }

  #deregisterServices(allocId: string): void {
    for (const [id, registration] of this.store.services) {
      if (registration.AllocID === allocId) this.store.services.delete(id);
    }
  }

  /** The scheduler handles an `alloc-stop` evaluation. */
  #scheduleStop(allocId: string, evalId: string): void {
    const alloc = this.store.allocs.get(allocId);
    if (alloc === undefined) return;
    const wasRunning = alloc.DesiredStatus === 'run';
    let replacementId: string | undefined;
    this.store.commit(['allocs', 'evals'], (index) => {
      this.#completeEval(evalId, index);
      if (!wasRunning) return;
      alloc.DesiredStatus = 'stop';
      alloc.DesiredDescription = 'alloc is being migrated';
      this.#touch(alloc, index, { server: true });
      if (alloc.Job?.Type === 'service' && this.#readyNodes().length > 0) {
        replacementId = this.#placeReplacement(alloc, evalId, index).ID;
      }
    });
    if (!wasRunning) return;
    this.#later(this.#timing.clientMs, () => this.#clientStop(allocId));
    if (replacementId !== undefined) this.#clientStart(replacementId);
  }

  #placeReplacement(previous: Allocation, evalId: string, index: bigint): Allocation {
    const job = previous.Job;
    if (job === null) throw new Error('allocation without job');
    const slot = Number(/\[(\d+)\]$/.exec(previous.Name)?.[1] ?? '0');
    const replacement = this.#place({ job, groupName: previous.TaskGroup, slot, evalId, index, deploymentId: previous.DeploymentID });
    replacement.PreviousAllocation = previous.ID;
    previous.NextAllocation = replacement.ID;
    this.#touch(previous, index, { server: true });
    return replacement;
  }

  /** The client kills a stopped allocation's tasks; it completes and its services go away. */
  #clientStop(allocId: string): void {
    const alloc = this.store.allocs.get(allocId);
    if (alloc === undefined || alloc.ClientStatus === 'complete' || alloc.ClientStatus === 'failed' || alloc.ClientStatus === 'lost') return;
    this.store.commit(['allocs', 'services'], (index) => {
      const now = this.now();
      const skipDelay = alloc.DesiredTransition.NoShutdownDelay === true;
      for (const state of Object.values(alloc.TaskStates ?? {})) {
        if (state.State === 'dead') continue;
        appendEvents(
          state,
          taskEvent(skipDelay ? 'Skipping shutdown delay' : 'Waiting for shutdown delay', now),
          taskEvent('Killing', now, { KillTimeout: 5_000_000_000n, KillReason: 'alloc is being migrated' }),
          taskEvent('Terminated', now, { ExitCode: 0, Signal: 15 }),
          taskEvent('Killed', now),
        );
        state.State = 'dead';
        state.FinishedAt = rfc3339FromNanos(now);
      }
      setClientStatus(alloc, 'complete');
      this.#deregisterServices(alloc.ID);
      this.#touch(alloc, index);
    });
  }

  /** The scheduler replaces a failed allocation, recording the attempt in its RescheduleTracker. */
  #reschedule(allocId: string): void {
    const previous = this.store.allocs.get(allocId);
    const job = previous?.Job;
    if (previous === undefined || job == null || previous.NextAllocation !== '' || this.#readyNodes().length === 0) return;
    let replacementId = '';
    this.store.commit(['allocs', 'evals'], (index) => {
      const evaluation = newEvaluation({ id: this.newId(), job, triggeredBy: 'alloc-failure', index, now: this.now(), status: 'complete' });
      this.store.evals.set(evaluation.ID, evaluation);
      previous.FollowupEvalID = evaluation.ID;
      const replacement = this.#placeReplacement(previous, evaluation.ID, index);
      replacement.RescheduleTracker = {
        Events: [
          ...(previous.RescheduleTracker?.Events ?? []),
          { RescheduleTime: this.now(), PrevAllocID: previous.ID, PrevNodeID: previous.NodeID, Delay: 30_000_000_000n },
        ],
        LastReschedule: 'ok',
      };
      replacementId = replacement.ID;
    });
    this.#clientStart(replacementId);
  }

  /** The scheduler replaces a lost allocation. */
  #replace(allocId: string): void {
    const previous = this.store.allocs.get(allocId);
    const job = previous?.Job;
    if (previous === undefined || job == null || previous.NextAllocation !== '' || this.#readyNodes().length === 0) return;
    let replacementId = '';
    this.store.commit(['allocs', 'evals'], (index) => {
      const evaluation = newEvaluation({ id: this.newId(), job, triggeredBy: 'node-update', index, now: this.now(), status: 'complete', nodeId: previous.NodeID });
      this.store.evals.set(evaluation.ID, evaluation);
      replacementId = this.#placeReplacement(previous, evaluation.ID, index).ID;
    });
    this.#clientStart(replacementId);
  }
}
