import type { TaskEvent } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { dateTimeFromNanos } from './time.ts';

export const TaskEventRef = builder.objectRef<TaskEvent>('TaskEvent').implement({
  description: 'Something that happened to a task. Nomad keeps the last 10 per task.',
  fields: (t) => ({
    type: t.exposeString('Type', {
      description: 'Nomad\'s event type, e.g. `Started`, `Terminated`, `Restart Signaled`. A string, since Nomad adds types.',
    }),
    time: t.field({ type: 'DateTime', nullable: true, resolve: (e) => dateTimeFromNanos(e.Time) }),
    message: t.exposeString('Message'),
    displayMessage: t.exposeString('DisplayMessage'),
    details: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.Details }),
    failsTask: t.exposeBoolean('FailsTask'),
    restartReason: t.exposeString('RestartReason'),
    setupError: t.exposeString('SetupError'),
    driverError: t.exposeString('DriverError'),
    exitCode: t.exposeInt('ExitCode'),
    signal: t.exposeInt('Signal'),
    killTimeout: t.field({ type: 'Duration', resolve: (e) => e.KillTimeout }),
    killError: t.exposeString('KillError'),
    killReason: t.exposeString('KillReason'),
    startDelay: t.field({ type: 'Duration', resolve: (e) => e.StartDelay }),
    downloadError: t.exposeString('DownloadError'),
    validationError: t.exposeString('ValidationError'),
    diskLimit: t.field({ type: 'Uint64', description: 'MB.', resolve: (e) => BigInt(e.DiskLimit) }),
    failedSibling: t.exposeString('FailedSibling'),
    vaultError: t.exposeString('VaultError'),
    taskSignalReason: t.exposeString('TaskSignalReason'),
    taskSignal: t.exposeString('TaskSignal'),
    driverMessage: t.exposeString('DriverMessage'),
    genericSource: t.exposeString('GenericSource'),
  }),
});
