import type { TaskState } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { TaskLifecycleStateEnum } from './enums.ts';
import { TaskEventRef } from './task-event.ts';
import { dateTimeFromText } from './time.ts';

/** A task state together with its task's name (Nomad keys them by name). */
export interface NamedTaskState {
  name: string;
  state: TaskState;
}

export const TaskStateRef = builder.objectRef<NamedTaskState>('TaskState').implement({
  description: 'The current state of one task of an allocation.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The task\'s name, as in the job\'s task group.' }),
    state: t.field({ type: TaskLifecycleStateEnum, description: 'Whether the task is waiting, running or finished.', resolve: ({ state }) => state.State }),
    failed: t.boolean({
      description: 'Whether the task has failed: it ended in error, or its restart policy gave up on it. A DEAD task that is not failed finished successfully.',
      resolve: ({ state }) => state.Failed,
    }),
    restarts: t.int({ description: 'How many times the task has been restarted in this allocation.', resolve: ({ state }) => state.Restarts }),
    startedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the task last started (restarts included); null until it first starts.',
      resolve: ({ state }) => dateTimeFromText(state.StartedAt),
    }),
    finishedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the task first became DEAD; null until it does.',
      resolve: ({ state }) => dateTimeFromText(state.FinishedAt),
    }),
    lastRestart: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the task was last restarted; null when it never was.',
      resolve: ({ state }) => dateTimeFromText(state.LastRestart),
    }),
    paused: t.string({
      nullable: true,
      description: '`force_run`, `scheduled_pause`, `force_pause` or `schedule_resume`; null when not paused.',
      resolve: ({ state }) => (state.Paused === '' ? null : state.Paused),
    }),
    events: t.field({
      type: [TaskEventRef],
      description: 'The task\'s latest events (the client keeps 10), oldest first.',
      resolve: ({ state }) => state.Events ?? [],
    }),
  }),
});

/** Task states in name order. */
export function namedTaskStates(states: Record<string, TaskState> | null): NamedTaskState[] {
  return Object.entries(states ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, state]) => ({ name, state }));
}
