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
    name: t.exposeString('name', { description: 'The task\'s name.' }),
    state: t.field({ type: TaskLifecycleStateEnum, resolve: ({ state }) => state.State }),
    failed: t.boolean({ resolve: ({ state }) => state.Failed }),
    restarts: t.field({ type: 'Uint64', resolve: ({ state }) => BigInt(state.Restarts) }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: ({ state }) => dateTimeFromText(state.StartedAt) }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: ({ state }) => dateTimeFromText(state.FinishedAt) }),
    lastRestart: t.field({ type: 'DateTime', nullable: true, resolve: ({ state }) => dateTimeFromText(state.LastRestart) }),
    paused: t.string({
      nullable: true,
      description: '`force_run`, `scheduled_pause`, `force_pause` or `schedule_resume`; null when not paused.',
      resolve: ({ state }) => (state.Paused === '' ? null : state.Paused),
    }),
    events: t.field({ type: [TaskEventRef], description: 'Oldest first.', resolve: ({ state }) => state.Events ?? [] }),
  }),
});

/** Task states in name order. */
export function namedTaskStates(states: Record<string, TaskState> | null): NamedTaskState[] {
  return Object.entries(states ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, state]) => ({ name, state }));
}
