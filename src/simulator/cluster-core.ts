import type { Allocation } from '../nomad/types.ts';
import type { Random } from './random.ts';
import type { StepQueue } from './step-queue.ts';
import type { Store } from './store.ts';

/** Delays of the simulated scheduler and clients. */
export interface Timing {
  /** From an evaluation to the scheduler's plan. @default 20 */
  schedulerMs: number;
  /** Between client-side steps of an allocation (received → running, killing → dead). @default 20 */
  clientMs: number;
}

/** What the scheduler and client simulations share: the store, time, ids and pending steps. */
export interface ClusterCore {
  readonly store: Store;
  readonly random: Random;
  readonly timing: Timing;
  readonly steps: StepQueue;
  now(): bigint;
  newId(): string;
}

/** Thrown for a request the cluster refuses; `status` and `message` are what Nomad answers. */
export class ClusterError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

/** Marks an allocation as written at `index`; server-side changes also move AllocModifyIndex. */
export function touch(core: ClusterCore, alloc: Allocation, index: bigint, options: { server?: boolean } = {}): void {
  alloc.ModifyIndex = index;
  alloc.ModifyTime = core.now();
  if (options.server === true) alloc.AllocModifyIndex = index;
}
