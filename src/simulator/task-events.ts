import type { TaskEvent, TaskState } from '../nomad/types.ts';

/** The client keeps at most this many events per task (Nomad's `defaultMaxEvents`). */
export const MAX_TASK_EVENTS = 10;

/** The fields a caller sets; everything else takes Go's zero value. */
export type TaskEventFields = Partial<Omit<TaskEvent, 'Type' | 'Time'>>;

function formatDuration(nanos: bigint): string {
  const seconds = Number(nanos) / 1e9;
  return Number.isInteger(seconds) ? `${seconds}s` : `${seconds.toFixed(3).replace(/0+$/, '')}s`;
}

/** What Nomad's HTTP layer puts in an empty `DisplayMessage`, per event type. */
export function displayMessageFor(event: TaskEvent): string {
  switch (event.Type) {
    case 'Received':
      return 'Task received by client';
    case 'Started':
      return 'Task started by client';
    case 'Task Setup':
    case 'Task hook message':
      return event.Message;
    case 'Driver':
      return event.DriverMessage;
    case 'Killing':
      return `Sent interrupt. Waiting ${formatDuration(event.KillTimeout)} before force killing`;
    case 'Killed':
      return event.KillError === '' ? 'Task successfully killed' : event.KillError;
    case 'Terminated':
      return event.Signal === 0
        ? `Exit Code: ${event.ExitCode}`
        : `Exit Code: ${event.ExitCode}, Signal: ${event.Signal}`;
    case 'Restarting':
      return `${event.RestartReason} - Task restarting in ${formatDuration(event.StartDelay)}`;
    case 'Not Restarting':
    case 'Restart Signaled':
      return event.RestartReason;
    case 'Signaling':
      return event.TaskSignal === ''
        ? 'Task being sent a signal'
        : `Task being sent signal ${event.TaskSignal}: ${event.TaskSignalReason}`;
    case 'Driver Failure':
      return event.DriverError;
    case 'Setup Failure':
      return event.SetupError;
    case 'Sibling Task Failed':
      return `Task's sibling "${event.FailedSibling}" failed`;
    default:
      return event.Message;
  }
}

/** A complete TaskEvent: every documented key present, `DisplayMessage` filled in. */
export function taskEvent(type: string, time: bigint, fields: TaskEventFields = {}): TaskEvent {
  const event: TaskEvent = {
    Type: type,
    Time: time,
    Message: '',
    DisplayMessage: '',
    Details: {},
    FailsTask: false,
    RestartReason: '',
    SetupError: '',
    DriverError: '',
    ExitCode: 0,
    Signal: 0,
    KillTimeout: 0n,
    KillError: '',
    KillReason: '',
    StartDelay: 0n,
    DownloadError: '',
    ValidationError: '',
    DiskLimit: 0,
    FailedSibling: '',
    VaultError: '',
    TaskSignalReason: '',
    TaskSignal: '',
    DriverMessage: '',
    GenericSource: '',
    ...fields,
  };
  if (event.DisplayMessage === '') event.DisplayMessage = displayMessageFor(event);
  return event;
}

/** Appends events to a task state, dropping the oldest beyond MAX_TASK_EVENTS. */
export function appendEvents(state: TaskState, ...events: TaskEvent[]): void {
  const all = [...(state.Events ?? []), ...events];
  state.Events = all.slice(Math.max(0, all.length - MAX_TASK_EVENTS));
}

export function newTaskState(): TaskState {
  return {
    State: 'pending',
    Failed: false,
    Restarts: 0,
    LastRestart: null,
    StartedAt: null,
    FinishedAt: null,
    Events: [],
    Paused: '',
    TaskHandle: null,
  };
}
