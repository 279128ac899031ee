import type { TaskState } from '../nomad/types.ts';
import { serviceRegistrations } from './alloc-factory.ts';
import { rfc3339FromNanos } from './clock.ts';
import { clientStatusOf, isTerminal, setClientStatus } from './client-status.ts';
import { touch, type ClusterCore } from './cluster-core.ts';
import type { Store } from './store.ts';
import { appendEvents, newTaskState, taskEvent } from './task-events.ts';

/** What a Nomad client does to allocations placed on its node: start, run and kill their tasks. */

/** A task (re)starts: a `Started` event and the running state. */
export function runTask(state: TaskState, now: bigint): void {
  appendEvents(state, taskEvent('Started', now));
  state.State = 'running';
  state.Failed = false;
  state.StartedAt = rfc3339FromNanos(now);
  state.FinishedAt = null;
}

export function deregisterServices(store: Store, allocId: string): void {
  for (const [id, registration] of store.services) {
    if (registration.AllocID === allocId) store.services.delete(id);
  }
}

function markRunning(core: ClusterCore, allocId: string): void {
  const { store } = core;
  const alloc = store.allocs.get(allocId);
  if (alloc === undefined || isTerminal(alloc)) return;
  const node = store.nodes.get(alloc.NodeID);
  store.commit(['allocs', 'services'], (index) => {
    for (const state of Object.values(alloc.TaskStates ?? {})) {
      if (state.State === 'pending') runTask(state, core.now());
    }
    setClientStatus(alloc, clientStatusOf(alloc));
    if (alloc.DeploymentID !== '') {
      alloc.DeploymentStatus = { Healthy: true, Timestamp: rfc3339FromNanos(core.now()), Canary: false, ModifyIndex: index };
    }
    if (node !== undefined) {
      for (const registration of serviceRegistrations(alloc, node, index)) store.services.set(registration.ID, registration);
    }
    touch(core, alloc, index);
  });
}

/** A new allocation reaches its client: received and set up, then running with its services. */
export function startOnClient(core: ClusterCore, allocId: string): void {
  core.steps.later(core.timing.clientMs, () => {
    const alloc = core.store.allocs.get(allocId);
    if (alloc === undefined || isTerminal(alloc)) return;
    core.store.commit(['allocs'], (index) => {
      const states: Record<string, TaskState> = {};
      for (const task of alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup)?.Tasks ?? []) {
        const state = newTaskState();
        const now = core.now();
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
      touch(core, alloc, index);
    });
    core.steps.later(core.timing.clientMs, () => markRunning(core, allocId));
  });
}

/** The client kills a stopped allocation's tasks; it completes and its services go away. */
export function stopOnClient(core: ClusterCore, allocId: string): void {
  const alloc = core.store.allocs.get(allocId);
  if (alloc === undefined || alloc.ClientStatus === 'complete' || alloc.ClientStatus === 'failed' || alloc.ClientStatus === 'lost') return;
  core.store.commit(['allocs', 'services'], (index) => {
    const now = core.now();
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
    deregisterServices(core.store, alloc.ID);
    touch(core, alloc, index);
  });
}
