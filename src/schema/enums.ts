import { builder } from './builder.ts';

export const ClientStatusEnum = builder.enumType('ClientStatus', {
  description: 'Where the allocation is, as its Nomad client reports it.',
  values: {
    PENDING: { value: 'pending' },
    RUNNING: { value: 'running' },
    COMPLETE: { value: 'complete', description: 'Every task finished successfully (terminal).' },
    FAILED: { value: 'failed', description: 'A task failed (terminal).' },
    LOST: { value: 'lost', description: 'Its node went down (terminal).' },
    UNKNOWN: { value: 'unknown', description: 'Its node is disconnected.' },
  } as const,
});

export const DesiredStatusEnum = builder.enumType('DesiredStatus', {
  description: 'What the scheduler wants of the allocation.',
  values: {
    RUN: { value: 'run' },
    STOP: { value: 'stop' },
    EVICT: { value: 'evict' },
  } as const,
});

export const TaskLifecycleStateEnum = builder.enumType('TaskLifecycleState', {
  description: 'A task\'s state. A finished task is DEAD, with `failed` telling how it ended.',
  values: {
    PENDING: { value: 'pending' },
    RUNNING: { value: 'running' },
    DEAD: { value: 'dead' },
  } as const,
});
