import type { TaskEvent } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { dateTimeFromNanos } from './time.ts';

export const TaskEventRef = builder.objectRef<TaskEvent>('TaskEvent').implement({
  description: 'Something that happened to a task. Nomad keeps the last 10 per task.',
  fields: (t) => ({
    type: t.exposeString('Type', {
      description: 'Nomad\'s event type, e.g. `Started`, `Terminated`, `Restart Signaled`. A string, since Nomad adds types.',
    }),
    time: t.field({ type: 'DateTime', nullable: true, description: 'When the event happened; null when unknown.', resolve: (e) => dateTimeFromNanos(e.Time) }),
    message: t.exposeString('Message', {
      description: 'Free text the event carries, such as a task\'s exit message or a setup step; often empty.',
    }),
    displayMessage: t.exposeString('DisplayMessage', {
      description: 'A one-line summary for people, e.g. `Task started by client` or `Exit Code: 1`; Nomad writes one when the client sent none.',
    }),
    details: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The event\'s annotations: an object of strings keyed in snake_case (e.g. `exit_code`, `signal`, `oom_killed`, `restart_reason`), which also holds the type-specific values below. Null when none.',
      resolve: (e) => e.Details,
    }),
    failsTask: t.exposeBoolean('FailsTask', { description: 'Whether this event marked the task as failed.' }),
    restartReason: t.exposeString('RestartReason', {
      description: 'Why the task is (or is not) restarted, on `Restarting`, `Not Restarting` and `Restart Signaled` events; empty otherwise.',
    }),
    setupError: t.exposeString('SetupError', { description: 'What went wrong, on `Setup Failure` events; empty otherwise.' }),
    driverError: t.exposeString('DriverError', { description: 'The driver\'s error, on `Driver Failure` events; empty otherwise.' }),
    exitCode: t.exposeInt('ExitCode', { description: 'The process\'s exit code, on `Terminated` events; 0 otherwise.' }),
    signal: t.exposeInt('Signal', { description: 'The number of the signal that ended the process, on `Terminated` events; 0 when none.' }),
    killTimeout: t.field({
      type: 'Duration',
      description: 'How long Nomad waits after the kill signal before force-killing, on `Killing` events (the task\'s `kill_timeout`, capped by the client\'s `max_kill_timeout`); `0s` otherwise.',
      resolve: (e) => e.KillTimeout,
    }),
    killError: t.exposeString('KillError', { description: 'The error met while killing the task, on `Killed` events; empty otherwise.' }),
    killReason: t.exposeString('KillReason', { description: 'Why the task is being killed, on `Killing` events; often empty.' }),
    startDelay: t.field({
      type: 'Duration',
      description: 'How long the client waits before restarting the task, on `Restarting` events; `0s` otherwise.',
      resolve: (e) => e.StartDelay,
    }),
    downloadError: t.exposeString('DownloadError', { description: 'Why an artifact could not be fetched, on `Failed Artifact Download` events; empty otherwise.' }),
    validationError: t.exposeString('ValidationError', { description: 'Why the task is invalid, on `Failed Validation` events; empty otherwise.' }),
    diskLimit: t.exposeInt('DiskLimit', { description: 'A disk limit in MB, from older Nomad versions; current clients never set it, so it is 0.' }),
    failedSibling: t.exposeString('FailedSibling', {
      description: 'The name of the task whose failure stopped this one, on `Sibling Task Failed` events; empty otherwise.',
    }),
    vaultError: t.exposeString('VaultError', { description: 'A Vault token renewal error, from older Nomad versions; current clients never set it, so it is empty.' }),
    taskSignalReason: t.exposeString('TaskSignalReason', { description: 'Why the task is being signalled, on `Signaling` events; often empty.' }),
    taskSignal: t.exposeString('TaskSignal', {
      description: 'The signal Nomad itself sends, on `Signaling` events (e.g. after a template re-render), as Go names it (`hangup`, `interrupt`); empty otherwise. A signal from `signalAllocation` is in `details.signal` instead.',
    }),
    driverMessage: t.exposeString('DriverMessage', {
      description: 'A progress message from the task driver, on `Driver` events (e.g. `Downloading image redis:7`); empty otherwise.',
    }),
    genericSource: t.exposeString('GenericSource', { description: 'Not filled by current Nomad versions: always empty.' }),
  }),
});
