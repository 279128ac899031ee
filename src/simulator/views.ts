import type { AllocListStub, Allocation, Evaluation, Job } from '../nomad/types.ts';

/** Which optional parts a list stub carries (`task_states`, `resources`). */
export interface StubFields {
  taskStates: boolean;
  resources: boolean;
}

/** An allocation as `GET /v1/allocations` shows it: every key, `AllocatedResources` only on request. */
export function allocStub(alloc: Allocation, fields: StubFields): AllocListStub | Omit<AllocListStub, 'AllocatedResources'> {
  const stub = {
    ID: alloc.ID,
    EvalID: alloc.EvalID,
    Name: alloc.Name,
    Namespace: alloc.Namespace,
    NodeID: alloc.NodeID,
    NodeName: alloc.NodeName,
    JobID: alloc.JobID,
    JobType: alloc.Job?.Type ?? '',
    JobVersion: alloc.Job?.Version ?? 0,
    TaskGroup: alloc.TaskGroup,
    DesiredStatus: alloc.DesiredStatus,
    DesiredDescription: alloc.DesiredDescription,
    DesiredTransition: alloc.DesiredTransition,
    ClientStatus: alloc.ClientStatus,
    ClientDescription: alloc.ClientDescription,
    TaskStates: fields.taskStates ? alloc.TaskStates : null,
    DeploymentStatus: alloc.DeploymentStatus,
    FollowupEvalID: alloc.FollowupEvalID,
    NextAllocation: alloc.NextAllocation,
    RescheduleTracker: alloc.RescheduleTracker,
    PreemptedAllocations: alloc.PreemptedAllocations,
    PreemptedByAllocation: alloc.PreemptedByAllocation,
    CreateIndex: alloc.CreateIndex,
    ModifyIndex: alloc.ModifyIndex,
    CreateTime: alloc.CreateTime,
    ModifyTime: alloc.ModifyTime,
  };
  return fields.resources ? { ...stub, AllocatedResources: alloc.AllocatedResources } : stub;
}

/** Go's notion of an empty value for `omitempty`, applied to a decoded JSON-ish value. */
function isGoEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false || value === 0 || value === 0n) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isGoEmpty);
  return false;
}

/**
 * Drops zero-valued top-level fields, as go-msgpack does for structs marked omitempty
 * (Allocation, Evaluation).
 */
export function omitEmptyFields<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (!isGoEmpty(value[key])) out[key] = value[key];
  }
  return out;
}

/** Nomad's pre-0.9 resource fields, still sent beside AllocatedResources. */
function legacyResources(alloc: Allocation): Record<string, unknown> {
  const allocated = alloc.AllocatedResources;
  if (allocated === null) return {};
  const networks = allocated.Shared.Networks;
  const perTask: Record<string, unknown> = {};
  let cpu = 0;
  let memory = 0;
  for (const [name, task] of Object.entries(allocated.Tasks ?? {})) {
    cpu += task.Cpu.CpuShares;
    memory += task.Memory.MemoryMB;
    perTask[name] = { CPU: task.Cpu.CpuShares, Cores: 0, MemoryMB: task.Memory.MemoryMB, MemoryMaxMB: 0, DiskMB: 0, Networks: null };
  }
  return {
    Resources: { CPU: cpu, Cores: 0, MemoryMB: memory, MemoryMaxMB: 0, DiskMB: allocated.Shared.DiskMB, Networks: networks },
    SharedResources: { CPU: 0, Cores: 0, MemoryMB: 0, MemoryMaxMB: 0, DiskMB: allocated.Shared.DiskMB, Networks: networks },
    TaskResources: perTask,
  };
}

/** A job as the API writes it: our model plus the spec fields the simulator leaves at their defaults. */
export function jobView(job: Job): Record<string, unknown> {
  return {
    ...job,
    Constraints: null,
    Affinities: null,
    Spreads: null,
    Update: { Stagger: 30_000_000_000n, MaxParallel: 1, HealthCheck: 'checks', MinHealthyTime: 10_000_000_000n },
    Periodic: null,
    ParameterizedJob: null,
    Dispatched: false,
    Payload: null,
    ConsulNamespace: '',
    VaultNamespace: '',
  };
}

/** `GET /v1/allocation/:id`: the full allocation with empty fields omitted. */
export function fullAllocation(alloc: Allocation): Record<string, unknown> {
  return omitEmptyFields({ ...alloc, Job: alloc.Job === null ? null : jobView(alloc.Job), ...legacyResources(alloc) });
}

export function fullEvaluation(evaluation: Evaluation): Partial<Evaluation> {
  return omitEmptyFields(evaluation);
}

/** Struct fields that are Go maps: a filter treats a missing key in them differently. */
const MAP_FIELDS = new Set([
  'TaskStates',
  'Meta',
  'Env',
  'Config',
  'Details',
  'NodesAvailable',
  'ClassFiltered',
  'ConstraintFiltered',
  'ClassExhausted',
  'DimensionExhausted',
  'Scores',
  'TaskLifecycles',
  'Attributes',
]);

/** Struct fields that are Go slices. */
const SLICE_FIELDS = new Set([
  'PreemptedAllocations',
  'AllocStates',
  'Datacenters',
  'TaskGroups',
  'Services',
  'Tags',
  'Checks',
  'Events',
  'Networks',
  'ReservedPorts',
  'DynamicPorts',
  'Ports',
  'QuotaExhausted',
  'ReservedCores',
  'Servers',
  'Searches',
  'Options',
]);

/**
 * What a `null` in the filter datum stands for in Go, by field name: a nil map (a missing key
 * is then simply absent), a nil slice, or a nil pointer (stepping through it is an error).
 */
export function nilKindAt(path: readonly string[]): 'map' | 'slice' | 'pointer' {
  const field = path[path.length - 1] ?? '';
  if (MAP_FIELDS.has(field) || (field === 'Tasks' && path[path.length - 2] === 'AllocatedResources')) return 'map';
  if (SLICE_FIELDS.has(field) || field === 'Tasks') return 'slice';
  return 'pointer';
}

function toDatum(value: unknown, isMap: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => toDatum(v, false));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (isMap) return new Map(entries.map(([k, v]) => [k, toDatum(v, false)]));
  const struct: Record<string, unknown> = {};
  for (const [key, field] of entries) {
    const isMapField = MAP_FIELDS.has(key) || (key === 'Tasks' && field !== null && !Array.isArray(field));
    struct[key] = toDatum(field, isMapField);
  }
  return struct;
}

/**
 * The value a `filter` expression sees for an allocation: the full Go struct (zero fields
 * included) with Go maps as `Map`s and structs as plain objects. Cached per ModifyIndex.
 */
export function createFilterDatumCache(): (alloc: Allocation) => unknown {
  const cache = new WeakMap<Allocation, { modifyIndex: bigint; datum: unknown }>();
  return (alloc) => {
    const hit = cache.get(alloc);
    if (hit !== undefined && hit.modifyIndex === alloc.ModifyIndex) return hit.datum;
    const datum = toDatum(alloc, false);
    cache.set(alloc, { modifyIndex: alloc.ModifyIndex, datum });
    return datum;
  };
}
