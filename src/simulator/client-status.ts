import type { Allocation, ClientStatus } from '../nomad/types.ts';

const DESCRIPTIONS: Record<ClientStatus, string> = {
  pending: 'No tasks have started',
  running: 'Tasks are running',
  complete: 'All tasks have completed',
  failed: 'Failed tasks',
  lost: 'alloc is lost since its node is down',
  unknown: 'alloc is unknown since its node is disconnected',
};

/** The client status a Nomad client reports for an allocation's task states. */
export function clientStatusOf(alloc: Allocation): ClientStatus {
  const states = Object.values(alloc.TaskStates ?? {});
  if (states.length === 0) return 'pending';
  if (states.some((s) => s.State === 'dead' && s.Failed)) return 'failed';
  if (states.some((s) => s.State === 'running')) return 'running';
  if (states.every((s) => s.State === 'dead')) return 'complete';
  return 'pending';
}

/** Sets ClientStatus and its description together. */
export function setClientStatus(alloc: Allocation, status: ClientStatus): void {
  alloc.ClientStatus = status;
  alloc.ClientDescription = DESCRIPTIONS[status];
}

export function isClientTerminal(status: ClientStatus): boolean {
  return status === 'complete' || status === 'failed' || status === 'lost';
}

/** An allocation that should not run any more, as the server sees it. */
export function isTerminal(alloc: Allocation): boolean {
  return alloc.DesiredStatus !== 'run' || isClientTerminal(alloc.ClientStatus);
}
