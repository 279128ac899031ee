import { builder } from './builder.ts';

export const ClientStatusEnum = builder.enumType('ClientStatus', {
  description: 'Where the allocation is, as its Nomad client reports it.',
  values: {
    PENDING: { value: 'pending', description: 'No task has started yet: the client has not picked the allocation up, or is still preparing its tasks.' },
    RUNNING: { value: 'running', description: 'At least one task is running and none has failed.' },
    COMPLETE: { value: 'complete', description: 'Every task finished successfully (terminal).' },
    FAILED: { value: 'failed', description: 'A task failed (terminal).' },
    LOST: { value: 'lost', description: 'Its node went down (terminal).' },
    UNKNOWN: { value: 'unknown', description: 'Its node is disconnected.' },
  } as const,
});

export const DesiredStatusEnum = builder.enumType('DesiredStatus', {
  description: 'What the scheduler wants of the allocation.',
  values: {
    RUN: { value: 'run', description: 'The allocation should be running.' },
    STOP: {
      value: 'stop',
      description: 'The allocation should stop, e.g. because its job was stopped or updated, it was stopped by hand, or its node is draining (terminal).',
    },
    EVICT: {
      value: 'evict',
      description: 'The allocation should stop because a higher-priority allocation preempted it; see `preemptedByAllocation` (terminal).',
    },
  } as const,
});

export const TaskLifecycleStateEnum = builder.enumType('TaskLifecycleState', {
  description: 'A task\'s state. A finished task is DEAD, with `failed` telling how it ended.',
  values: {
    PENDING: { value: 'pending', description: 'Not running yet: waiting for its first start, or for a restart.' },
    RUNNING: { value: 'running', description: 'The task is running.' },
    DEAD: {
      value: 'dead',
      description: 'The task has stopped and Nomad will not start it again by itself (`restartAllocation` with `allTasks` can).',
    },
  } as const,
});
