import type { AllocListStub, Allocation } from '../nomad/types.ts';

/**
 * What an Allocation field resolves from: a list stub (with a note of which optional parts the
 * list call asked for) or a full allocation. Full-only fields load the full allocation through
 * the per-request loader when they meet a stub.
 */
export type AllocationSource =
  | { kind: 'stub'; stub: AllocListStub; hasTaskStates: boolean; hasResources: boolean }
  | { kind: 'full'; alloc: Allocation };

export function fromStub(stub: AllocListStub, parts: { taskStates: boolean; resources: boolean }): AllocationSource {
  return { kind: 'stub', stub, hasTaskStates: parts.taskStates, hasResources: parts.resources };
}

export function fromFull(alloc: Allocation): AllocationSource {
  return { kind: 'full', alloc };
}

/** The fields a stub and a full allocation share. */
export function common(source: AllocationSource): AllocListStub | Allocation {
  return source.kind === 'stub' ? source.stub : source.alloc;
}

/** The optional parts of list stubs that a set of selected Allocation fields needs. */
export function stubPartsFor(selected: ReadonlySet<string>): { taskStates: boolean; resources: boolean } {
  return { taskStates: selected.has('taskStates') || selected.has('taskState'), resources: selected.has('allocatedResources') };
}
