import type { Allocation, Job, NomadNode } from '../nomad/types.ts';
import { newAllocation, newEvaluation, portLabels } from './alloc-factory.ts';
import { startOnClient, stopOnClient } from './client-runner.ts';
import { isTerminal } from './client-status.ts';
import { ClusterError, touch, type ClusterCore } from './cluster-core.ts';

/** What Nomad's scheduler does: place allocations, and stop, replace or reschedule them. */

export function readyNodes(core: ClusterCore): NomadNode[] {
  return [...core.store.nodes.values()].filter((n) => n.Status === 'ready' && n.SchedulingEligibility === 'eligible');
}

export interface PlaceFields {
  job: Job;
  groupName: string;
  slot: number;
  evalId: string;
  index: bigint;
  deploymentId: string;
}

/** Places one allocation of a group on a random ready node (inside a commit). */
export function place(core: ClusterCore, fields: PlaceFields): Allocation {
  const nodes = readyNodes(core);
  if (nodes.length === 0) throw new ClusterError(500, 'no ready nodes to place allocations on');
  const group = fields.job.TaskGroups?.find((g) => g.Name === fields.groupName);
  if (group === undefined) throw new Error(`job ${fields.job.ID} has no group ${fields.groupName}`);
  const alloc = newAllocation({
    id: core.newId(),
    evalId: fields.evalId,
    job: fields.job,
    group,
    slot: fields.slot,
    node: core.random.pick(nodes),
    index: fields.index,
    now: core.now(),
    ports: portLabels(group).map(() => 20_000 + core.random.int(12_000)),
    deploymentId: fields.deploymentId,
    nodesEvaluated: nodes.length,
  });
  core.store.allocs.set(alloc.ID, alloc);
  return alloc;
}

export function completeEval(core: ClusterCore, evalId: string, index: bigint): void {
  const evaluation = core.store.evals.get(evalId);
  if (evaluation === undefined) return;
  evaluation.Status = 'complete';
  evaluation.ModifyIndex = index;
  evaluation.ModifyTime = core.now();
}

/** Whether `job` is still the registered job under its id (not purged, nor registered anew since). */
function isCurrentJob(core: ClusterCore, job: Job): boolean {
  return core.store.job(job.Namespace, job.ID)?.CreateIndex === job.CreateIndex;
}

/** Places a replacement in the same slot, linked both ways (inside a commit). */
function placeReplacement(core: ClusterCore, previous: Allocation, evalId: string, index: bigint): Allocation {
  const job = previous.Job;
  if (job === null) throw new Error('allocation without job');
  const slot = Number(/\[(\d+)\]$/.exec(previous.Name)?.[1] ?? '0');
  const replacement = place(core, { job, groupName: previous.TaskGroup, slot, evalId, index, deploymentId: previous.DeploymentID });
  replacement.PreviousAllocation = previous.ID;
  previous.NextAllocation = replacement.ID;
  touch(core, previous, index, { server: true });
  return replacement;
}

/** Handles an `alloc-stop` evaluation: the allocation is stopped and, for a service job, replaced. */
export function scheduleStop(core: ClusterCore, allocId: string, evalId: string): void {
  const alloc = core.store.allocs.get(allocId);
  if (alloc === undefined) return;
  const wasRunning = alloc.DesiredStatus === 'run';
  let replacementId: string | undefined;
  core.store.commit(['allocs', 'evals'], (index) => {
    completeEval(core, evalId, index);
    if (!wasRunning) return;
    alloc.DesiredStatus = 'stop';
    alloc.DesiredDescription = 'alloc is being migrated';
    touch(core, alloc, index, { server: true });
    if (alloc.Job?.Type === 'service' && isCurrentJob(core, alloc.Job) && readyNodes(core).length > 0) {
      replacementId = placeReplacement(core, alloc, evalId, index).ID;
    }
  });
  if (!wasRunning) return;
  core.steps.later(core.timing.clientMs, () => stopOnClient(core, allocId));
  if (replacementId !== undefined) startOnClient(core, replacementId);
}

/**
 * Replaces a failed or lost allocation through a new evaluation. A failure is recorded in the
 * replacement's RescheduleTracker; a lost allocation is simply placed again.
 */
export function replaceAllocation(core: ClusterCore, allocId: string, cause: 'alloc-failure' | 'node-update'): void {
  const previous = core.store.allocs.get(allocId);
  const job = previous?.Job;
  if (previous === undefined || job == null || !isCurrentJob(core, job) || previous.NextAllocation !== '' || readyNodes(core).length === 0) return;
  let replacementId = '';
  core.store.commit(['allocs', 'evals'], (index) => {
    const evaluation = newEvaluation({
      id: core.newId(),
      job,
      triggeredBy: cause,
      index,
      now: core.now(),
      status: 'complete',
      nodeId: cause === 'node-update' ? previous.NodeID : undefined,
    });
    core.store.evals.set(evaluation.ID, evaluation);
    const replacement = placeReplacement(core, previous, evaluation.ID, index);
    if (cause === 'alloc-failure') {
      previous.FollowupEvalID = evaluation.ID;
      replacement.RescheduleTracker = {
        Events: [
          ...(previous.RescheduleTracker?.Events ?? []),
          { RescheduleTime: core.now(), PrevAllocID: previous.ID, PrevNodeID: previous.NodeID, Delay: 30_000_000_000n },
        ],
        LastReschedule: 'ok',
      };
    }
    replacementId = replacement.ID;
  });
  startOnClient(core, replacementId);
}

/**
 * Handles a `job-deregister` evaluation of a purged job: every allocation still meant to run under
 * the job's id is stopped (`handleStop` in Nomad's reconciler), then its client kills it.
 */
export function scheduleJobStop(core: ClusterCore, job: { namespace: string; id: string }, evalId: string): void {
  const stopping: string[] = [];
  core.store.commit(['allocs', 'evals'], (index) => {
    completeEval(core, evalId, index);
    for (const alloc of core.store.allocs.values()) {
      if (alloc.Namespace !== job.namespace || alloc.JobID !== job.id || isTerminal(alloc)) continue;
      alloc.DesiredStatus = 'stop';
      alloc.DesiredDescription = 'alloc not needed due to job update';
      touch(core, alloc, index, { server: true });
      stopping.push(alloc.ID);
    }
  });
  for (const id of stopping) core.steps.later(core.timing.clientMs, () => stopOnClient(core, id));
}
