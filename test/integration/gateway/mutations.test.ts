import { describe, expect, it } from 'vitest';
import { useGatewayStack, type GraphQLResponse } from '../../helpers/gateway.ts';

interface EventView {
  type: string;
  taskSignal: string;
  restartReason: string;
}

interface TaskStateView {
  name: string;
  state: string;
  restarts: number;
  events: EventView[];
}

const ALLOC_TASKS = /* GraphQL */ `
  query Tasks($id: ID!) {
    allocation(id: $id) {
      allocId
      clientStatus
      taskStates { name state restarts events { type taskSignal restartReason } }
    }
  }
`;

const STOP = /* GraphQL */ `
  mutation Stop($input: StopAllocationInput!) {
    stopAllocation(input: $input) {
      evalId
      index
      allocation { allocId desiredStatus desiredTransition { migrate noShutdownDelay } }
    }
  }
`;

const SIGNAL = /* GraphQL */ `
  mutation Signal($input: SignalAllocationInput!) {
    signalAllocation(input: $input) {
      allocation { allocId taskStates { name state restarts events { type taskSignal restartReason } } }
    }
  }
`;

const RESTART = /* GraphQL */ `
  mutation Restart($input: RestartAllocationInput!) {
    restartAllocation(input: $input) {
      allocation { allocId taskStates { name state restarts events { type taskSignal restartReason } } }
    }
  }
`;

function field<T>(response: GraphQLResponse, ...path: string[]): T {
  let value: unknown = response.data;
  for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key];
  return value as T;
}

function byName(states: TaskStateView[]): Record<string, TaskStateView> {
  return Object.fromEntries(states.map((s) => [s.name, s]));
}

function eventsOfType(state: TaskStateView | undefined, type: string): EventView[] {
  return (state?.events ?? []).filter((e) => e.type === type);
}

function codes(response: GraphQLResponse): unknown[] {
  return (response.errors ?? []).map((e) => e.extensions?.['code']);
}

describe('gateway allocation mutations', () => {
  const stack = useGatewayStack();
  let jobCounter = 0;

  /** A running service allocation with the given tasks. */
  async function runningAlloc(tasks: string[] = ['web']): Promise<string> {
    jobCounter += 1;
    const { allocations } = stack().sim.cluster.createJob({
      id: `mut-${jobCounter}`,
      groups: [{ name: 'g', count: 1, tasks: tasks.map((name) => ({ name, services: [{ name: `${name}-svc` }] })) }],
    });
    await stack().sim.cluster.idle();
    const id = allocations[0]?.ID;
    if (id === undefined) throw new Error('no allocation placed');
    return id;
  }

  async function tasksOf(id: string): Promise<Record<string, TaskStateView>> {
    const response = await stack().graphql(ALLOC_TASKS, { id });
    expect(response.errors).toBeUndefined();
    return byName(field<TaskStateView[]>(response, 'allocation', 'taskStates'));
  }

  /** Runs `operation` and asserts that the gateway sent nothing to Nomad while doing it. */
  async function withoutUpstreamCalls(operation: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
    stack().sim.resetRequestCounts();
    const response = await operation();
    expect(stack().sim.requestCounts()).toEqual({});
    return response;
  }

  describe('stopAllocation', () => {
    it('should return the alloc-stop evaluation, the raft index and the allocation marked for migration', async () => {
      const id = await runningAlloc();
      const release = stack().sim.cluster.hold();
      let response: GraphQLResponse;
      try {
        response = await stack().graphql(STOP, { input: { id, noShutdownDelay: true } });
      } finally {
        release();
      }
      expect(response.errors).toBeUndefined();
      const payload = field<{ evalId: string; index: string; allocation: Record<string, unknown> }>(response, 'stopAllocation');
      expect(payload.evalId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(BigInt(payload.index)).toBeGreaterThan(0n);
      // Nomad changes only the desired transition in the call; the scheduler stops it later.
      expect(payload.allocation).toEqual({ allocId: id, desiredStatus: 'RUN', desiredTransition: { migrate: true, noShutdownDelay: true } });

      const evaluation = stack().sim.store.evals.get(payload.evalId);
      expect(evaluation?.TriggeredBy).toBe('alloc-stop');
      await stack().sim.cluster.idle();
    });

    it('should show the allocation stopped, complete and linked to its replacement once the scheduler ran', async () => {
      const id = await runningAlloc();
      const stopped = await stack().graphql(STOP, { input: { id } });
      expect(stopped.errors).toBeUndefined();
      expect(field<boolean>(stopped, 'stopAllocation', 'allocation', 'desiredTransition', 'migrate')).toBe(true);
      await stack().sim.cluster.idle();

      const response = await stack().graphql(
        /* GraphQL */ `
          query After($id: ID!) {
            allocation(id: $id) {
              allocId
              desiredStatus
              desiredDescription
              clientStatus
              nextAllocation { allocId clientStatus previousAllocation { allocId } }
            }
          }
        `,
        { id },
      );
      expect(response.errors).toBeUndefined();
      const alloc = field<Record<string, unknown>>(response, 'allocation');
      expect(alloc).toMatchObject({ allocId: id, desiredStatus: 'STOP', desiredDescription: 'alloc is being migrated', clientStatus: 'COMPLETE' });
      const next = alloc['nextAllocation'] as { allocId: string; clientStatus: string; previousAllocation: { allocId: string } };
      expect(next.allocId).not.toBe(id);
      expect(next.clientStatus).toBe('RUNNING');
      expect(next.previousAllocation).toEqual({ allocId: id });
    });
  });

  describe('signalAllocation', () => {
    it('should record a Signaling event with the signal on the named task only', async () => {
      const id = await runningAlloc(['web', 'sidecar']);
      const response = await stack().graphql(SIGNAL, { input: { id, signal: 'SIGHUP', task: 'web' } });
      expect(response.errors).toBeUndefined();
      const fromPayload = byName(field<TaskStateView[]>(response, 'signalAllocation', 'allocation', 'taskStates'));
      expect(eventsOfType(fromPayload['web'], 'Signaling').map((e) => e.taskSignal)).toEqual(['SIGHUP']);

      const tasks = await tasksOf(id);
      expect(eventsOfType(tasks['web'], 'Signaling').map((e) => e.taskSignal)).toEqual(['SIGHUP']);
      expect(eventsOfType(tasks['sidecar'], 'Signaling')).toEqual([]);
    });

    it('should signal every task when no task is given, normalising the signal name', async () => {
      const id = await runningAlloc(['web', 'sidecar']);
      const response = await stack().graphql(SIGNAL, { input: { id, signal: ' sigusr1 ' } });
      expect(response.errors).toBeUndefined();

      const tasks = await tasksOf(id);
      expect(eventsOfType(tasks['web'], 'Signaling').map((e) => e.taskSignal)).toEqual(['SIGUSR1']);
      expect(eventsOfType(tasks['sidecar'], 'Signaling').map((e) => e.taskSignal)).toEqual(['SIGUSR1']);
    });
  });

  describe('restartAllocation', () => {
    it('should restart only the named task', async () => {
      const id = await runningAlloc(['web', 'sidecar']);
      const response = await stack().graphql(RESTART, { input: { id, task: 'web' } });
      expect(response.errors).toBeUndefined();
      const fromPayload = byName(field<TaskStateView[]>(response, 'restartAllocation', 'allocation', 'taskStates'));
      expect(fromPayload['web']?.restarts).toBe(1);
      await stack().sim.cluster.idle();

      const tasks = await tasksOf(id);
      expect(tasks['web']?.restarts).toBe(1);
      expect(tasks['web']?.state).toBe('RUNNING');
      expect(eventsOfType(tasks['web'], 'Restart Signaled').map((e) => e.restartReason)).toEqual(['User requested task to restart']);
      expect(tasks['sidecar']?.restarts).toBe(0);
      expect(eventsOfType(tasks['sidecar'], 'Restart Signaled')).toEqual([]);
    });

    it('should restart the running tasks by default and leave a finished one alone', async () => {
      const id = await runningAlloc(['web', 'init']);
      stack().sim.cluster.setTaskState(id, 'init', 'dead');
      const response = await stack().graphql(RESTART, { input: { id } });
      expect(response.errors).toBeUndefined();
      await stack().sim.cluster.idle();

      const tasks = await tasksOf(id);
      expect(tasks['web']?.restarts).toBe(1);
      expect(eventsOfType(tasks['web'], 'Restart Signaled').map((e) => e.restartReason)).toEqual([
        'User requested running tasks to restart',
      ]);
      expect(tasks['init']?.restarts).toBe(0);
      expect(tasks['init']?.state).toBe('DEAD');
      expect(eventsOfType(tasks['init'], 'Restart Signaled')).toEqual([]);
    });

    it('should restart every task, finished ones included, with allTasks', async () => {
      const id = await runningAlloc(['web', 'init']);
      stack().sim.cluster.setTaskState(id, 'init', 'dead');
      const response = await stack().graphql(RESTART, { input: { id, allTasks: true } });
      expect(response.errors).toBeUndefined();
      await stack().sim.cluster.idle();

      const tasks = await tasksOf(id);
      for (const name of ['web', 'init']) {
        expect(tasks[name]?.restarts).toBe(1);
        expect(tasks[name]?.state).toBe('RUNNING');
        expect(eventsOfType(tasks[name], 'Restart Signaled').map((e) => e.restartReason)).toEqual([
          'User requested all tasks to restart',
        ]);
      }
    });
  });

  describe('validation before calling Nomad', () => {
    it('should refuse task together with allTasks without calling Nomad', async () => {
      const id = await runningAlloc();
      const response = await withoutUpstreamCalls(() => stack().graphql(RESTART, { input: { id, task: 'web', allTasks: true } }));
      expect(response.data).toBeNull();
      expect(codes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.extensions?.['field']).toBe('task');
    });

    it('should refuse an unknown signal name without calling Nomad', async () => {
      const id = await runningAlloc();
      const response = await withoutUpstreamCalls(() => stack().graphql(SIGNAL, { input: { id, signal: 'SIGBOGUS' } }));
      expect(response.data).toBeNull();
      expect(codes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.message).toContain('SIGBOGUS');
      expect(response.errors?.[0]?.extensions?.['field']).toBe('signal');
    });

    it('should refuse an empty task name in signal and restart without calling Nomad', async () => {
      const id = await runningAlloc();
      const signal = await withoutUpstreamCalls(() => stack().graphql(SIGNAL, { input: { id, signal: 'SIGHUP', task: '' } }));
      expect(codes(signal)).toEqual(['BAD_USER_INPUT']);
      expect(signal.errors?.[0]?.extensions?.['field']).toBe('task');
      const restart = await withoutUpstreamCalls(() => stack().graphql(RESTART, { input: { id, task: '   ' } }));
      expect(codes(restart)).toEqual(['BAD_USER_INPUT']);
      expect(restart.errors?.[0]?.extensions?.['field']).toBe('task');
    });

    it('should refuse an id that is not a full UUID in every mutation without calling Nomad', async () => {
      const id = await runningAlloc();
      const short = id.slice(0, 8);
      const responses = [
        await withoutUpstreamCalls(() => stack().graphql(STOP, { input: { id: short } })),
        await withoutUpstreamCalls(() => stack().graphql(SIGNAL, { input: { id: short, signal: 'SIGHUP' } })),
        await withoutUpstreamCalls(() => stack().graphql(RESTART, { input: { id: 'not-a-uuid' } })),
      ];
      for (const response of responses) {
        expect(response.data).toBeNull();
        expect(codes(response)).toEqual(['BAD_USER_INPUT']);
        expect(response.errors?.[0]?.extensions?.['field']).toBe('id');
      }
      // Nothing was stopped, signalled or restarted.
      const tasks = await tasksOf(id);
      expect(eventsOfType(tasks['web'], 'Signaling')).toEqual([]);
      expect(tasks['web']?.restarts).toBe(0);
    });
  });
});
