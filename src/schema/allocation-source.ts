import type { Loaders } from '../loaders.ts';
import type { AllocListStub, Allocation } from '../nomad/types.ts';

/**
 * What an Allocation field resolves from: a list stub (with a note of which optional parts the
 * list call asked for) or a full allocation. Full-only fields load the full allocation through
 * the per-request loader when they meet a stub.
 *
 * `loaders`, when set, replaces the request's loaders for what this allocation links to: a
 * subscription event carries loaders shared by every subscriber of its watch key on this replica
 * (one token), so the reads an event causes do not grow with the number of subscribers.
 */
export type AllocationSource =
  | { kind: 'stub'; stub: AllocListStub; hasTaskStates: boolean; hasResources: boolean; loaders?: Loaders }
  | { kind: 'full'; alloc: Allocation; loaders?: Loaders };

export function fromStub(stub: AllocListStub, parts: { taskStates: boolean; resources: boolean }, loaders?: Loaders): AllocationSource {
  return { kind: 'stub', stub, hasTaskStates: parts.taskStates, hasResources: parts.resources, loaders };
}

export function fromFull(alloc: Allocation, loaders?: Loaders): AllocationSource {
  return { kind: 'full', alloc, loaders };
}

/** The loaders an allocation's links are read through: the event's shared ones, or the request's. */
export function loadersOf(source: AllocationSource, requestLoaders: Loaders): Loaders {
  return source.loaders ?? requestLoaders;
}

/** The fields a stub and a full allocation share. */
export function common(source: AllocationSource): AllocListStub | Allocation {
  return source.kind === 'stub' ? source.stub : source.alloc;
}

/** The optional parts of list stubs that a set of selected Allocation fields needs. */
export function stubPartsFor(selected: ReadonlySet<string>): { taskStates: boolean; resources: boolean } {
  return { taskStates: selected.has('taskStates') || selected.has('taskState'), resources: selected.has('allocatedResources') };
}
