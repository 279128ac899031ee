import type {
  AllocDeploymentStatus,
  AllocMetric,
  AllocNetworkStatus,
  AllocState,
  AllocatedResources,
  AllocatedTaskResources,
  AllocatedPortMapping,
  DesiredTransition,
  RescheduleEvent,
  RescheduleTracker,
} from '../nomad/types.ts';
import { builder } from './builder.ts';
import { dateTimeFromNanos, dateTimeFromText } from './time.ts';

export const DesiredTransitionRef = builder.objectRef<DesiredTransition>('DesiredTransition').implement({
  description: 'Transitions the servers asked of the allocation; null means not set.',
  fields: (t) => ({
    migrate: t.boolean({
      nullable: true,
      description: 'True when the allocation is to be stopped and, if its job wants one, replaced on another node (set by `stopAllocation` and by node drains).',
      resolve: (d) => d.Migrate,
    }),
    reschedule: t.boolean({
      nullable: true,
      description: 'True when the allocation may be rescheduled although it would not be by default, e.g. a failed allocation of a deployment.',
      resolve: (d) => d.Reschedule,
    }),
    forceReschedule: t.boolean({
      nullable: true,
      description: 'True when an operator forced the rescheduling of this failed allocation even though its reschedule policy does not allow it.',
      resolve: (d) => d.ForceReschedule,
    }),
    noShutdownDelay: t.boolean({
      nullable: true,
      description: 'True when the stop is to skip the group and task `shutdown_delay` (see `StopAllocationInput.noShutdownDelay`).',
      resolve: (d) => d.NoShutdownDelay,
    }),
    migrateDisablePlacement: t.boolean({
      nullable: true,
      description: 'True when a migrating allocation is to get no replacement; Nomad sets it to keep stopped batch allocations from being placed again.',
      resolve: (d) => d.MigrateDisablePlacement,
    }),
  }),
});

export const DeploymentStatusRef = builder.objectRef<AllocDeploymentStatus>('DeploymentStatus').implement({
  description: 'How the deployment that placed the allocation judges it.',
  fields: (t) => ({
    healthy: t.boolean({
      nullable: true,
      description: 'Whether the deployment found the allocation healthy (true) or unhealthy (false). Null until the deployment has judged it.',
      resolve: (d) => d.Healthy,
    }),
    timestamp: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When `healthy` was last set; null before that.',
      resolve: (d) => dateTimeFromText(d.Timestamp),
    }),
    canary: t.exposeBoolean('Canary', {
      description: 'Whether the allocation is a canary of its deployment; false again once the canary has been promoted.',
    }),
    modifyIndex: t.field({ type: 'Uint64', description: 'The Raft index of the last change to this status.', resolve: (d) => d.ModifyIndex }),
  }),
});

const RescheduleEventRef = builder.objectRef<RescheduleEvent>('RescheduleEvent').implement({
  description: 'One rescheduling in the chain of allocations that led to this one: a failed allocation replaced by a new one.',
  fields: (t) => ({
    rescheduleTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the replacement was scheduled; null when unknown.',
      resolve: (e) => dateTimeFromNanos(e.RescheduleTime),
    }),
    prevAllocId: t.exposeID('PrevAllocID', { description: 'Nomad\'s id (UUID) of the failed allocation that was replaced; not a global id.' }),
    prevNodeId: t.exposeID('PrevNodeID', { description: 'Nomad\'s id (UUID) of the node that allocation ran on; not a global id.' }),
    delay: t.field({
      type: 'Duration',
      description: 'How long the reschedule policy made this attempt wait after the failure (`0s` when immediate).',
      resolve: (e) => e.Delay,
    }),
  }),
});

export const RescheduleTrackerRef = builder.objectRef<RescheduleTracker>('RescheduleTracker').implement({
  description: 'The reschedule attempts that led to this allocation.',
  fields: (t) => ({
    events: t.field({
      type: [RescheduleEventRef],
      description: 'The reschedulings, oldest first. Nomad keeps only recent ones (within the reschedule policy\'s interval); empty when none.',
      resolve: (r) => r.Events ?? [],
    }),
    lastReschedule: t.string({
      nullable: true,
      description: 'How the latest reschedule recorded on this allocation went: `ok` (a replacement was placed) or `no placement` (no node fitted). Null when none is recorded.',
      resolve: (r) => (r.LastReschedule === '' ? null : r.LastReschedule),
    }),
  }),
});

export const AllocationMetricsRef = builder.objectRef<AllocMetric>('AllocationMetrics').implement({
  description: 'How the scheduler placed the allocation.',
  fields: (t) => ({
    nodesEvaluated: t.exposeInt('NodesEvaluated', { description: 'How many nodes the scheduler considered for the placement.' }),
    nodesFiltered: t.exposeInt('NodesFiltered', { description: 'How many of those nodes a constraint ruled out.' }),
    nodesInPool: t.exposeInt('NodesInPool', { description: 'How many nodes the node pool of the job has.' }),
    nodesAvailable: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Per datacenter: an object from datacenter name to the number of nodes available for placement there. Null when Nomad recorded none.',
      resolve: (m) => m.NodesAvailable,
    }),
    classFiltered: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Nodes ruled out by a constraint, per node class: an object from class name to count. Null when none.',
      resolve: (m) => m.ClassFiltered,
    }),
    constraintFiltered: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Nodes ruled out, per constraint or reason: an object from the constraint as text (e.g. `${attr.kernel.name} = linux`, `missing drivers`) to count. Null when none.',
      resolve: (m) => m.ConstraintFiltered,
    }),
    nodesExhausted: t.exposeInt('NodesExhausted', { description: 'How many nodes passed the constraints but lacked enough of some resource.' }),
    classExhausted: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Exhausted nodes per node class: an object from class name to count. Null when none.',
      resolve: (m) => m.ClassExhausted,
    }),
    dimensionExhausted: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Exhausted nodes per missing resource or reason (e.g. `memory`, `cpu`, `cores`, `network: port collision`): an object from reason to count. Null when none.',
      resolve: (m) => m.DimensionExhausted,
    }),
    quotaExhausted: t.stringList({
      description: 'The resource-quota limits the placement ran into (quotas are a Nomad Enterprise feature); empty when none.',
      resolve: (m) => m.QuotaExhausted ?? [],
    }),
    scores: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Node scores keyed `<nodeId>.<scorer>`, from Nomad versions before 0.9; current Nomad no longer fills it, so it is null.',
      resolve: (m) => m.Scores,
    }),
    allocationTime: t.field({ type: 'Duration', description: 'How long the scheduler took to place the allocation.', resolve: (m) => m.AllocationTime }),
    coalescedFailures: t.exposeInt('CoalescedFailures', {
      description: 'How many other failed placements of the same task group Nomad folded into this one instead of creating one failed allocation each.',
    }),
  }),
});

/** Nomad's `AllocStateField` values, by number. */
const ALLOC_STATE_FIELDS: Readonly<Record<number, string>> = { 0: 'clientStatus' };

export const AllocStateRef = builder.objectRef<AllocState>('AllocationStateChange').implement({
  description: 'A change of the allocation\'s client status that Nomad recorded, e.g. when its node disconnected or was lost.',
  fields: (t) => ({
    field: t.string({
      description: 'What changed: `clientStatus`, the only field Nomad records here (an unknown future field is given by its number).',
      resolve: (s) => ALLOC_STATE_FIELDS[s.Field] ?? String(s.Field),
    }),
    value: t.exposeString('Value', { description: 'The value it changed to: a client status such as `unknown`, `lost` or `running`.' }),
    time: t.field({ type: 'DateTime', nullable: true, description: 'When it changed; null when unknown.', resolve: (s) => dateTimeFromText(s.Time) }),
  }),
});

export const NetworkStatusRef = builder.objectRef<AllocNetworkStatus>('AllocationNetworkStatus').implement({
  description: 'The network namespace the client set up for the allocation (bridge or CNI networking).',
  fields: (t) => ({
    interfaceName: t.exposeString('InterfaceName', { description: 'The network interface inside the namespace, e.g. `eth0`; empty when unknown.' }),
    address: t.exposeString('Address', { description: 'The allocation\'s IPv4 address on that interface; empty when it has none.' }),
    addressIPv6: t.exposeString('AddressIPv6', { description: 'The allocation\'s IPv6 address on that interface; empty when it has none.' }),
    dns: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The DNS settings given to the allocation, as Nomad sends them: an object with `Servers`, `Searches` and `Options` lists. Null when none were set.',
      resolve: (s) => s.DNS,
    }),
  }),
});

const PortMappingRef = builder.objectRef<AllocatedPortMapping>('AllocatedPort').implement({
  description: 'A port the scheduler reserved on the node for the allocation\'s group network.',
  fields: (t) => ({
    label: t.exposeString('Label', { description: 'The port\'s label in the job\'s `network` block (`port "http" {}` has label `http`).' }),
    value: t.exposeInt('Value', { description: 'The host port: the port number reserved on the node.' }),
    to: t.exposeInt('To', { description: 'The port inside the task\'s network namespace, 0 when the same.' }),
    hostIp: t.exposeString('HostIP', { description: 'The node\'s IP address the port is reserved on.' }),
  }),
});

const TaskResourcesRef = builder.objectRef<{ name: string; resources: AllocatedTaskResources }>('AllocatedTaskResources').implement({
  description: 'What the scheduler reserved on the node for one task of the allocation.',
  fields: (t) => ({
    task: t.exposeString('name', { description: 'The task\'s name, as in the job\'s task group.' }),
    cpuShares: t.int({ description: 'CPU reserved for the task, in MHz.', resolve: ({ resources }) => resources.Cpu.CpuShares }),
    reservedCores: t.intList({
      description: 'IDs of the CPU cores reserved for the task alone (when its `resources` block asks for `cores`); empty otherwise.',
      resolve: ({ resources }) => resources.Cpu.ReservedCores ?? [],
    }),
    memoryMB: t.int({ description: 'Memory reserved for the task, in MB.', resolve: ({ resources }) => resources.Memory.MemoryMB }),
    memoryMaxMB: t.int({
      description: 'The most memory the task may use when memory oversubscription is on, in MB: 0 when no such limit is set, -1 for no limit at all.',
      resolve: ({ resources }) => resources.Memory.MemoryMaxMB,
    }),
  }),
});

export const AllocatedResourcesRef = builder.objectRef<AllocatedResources>('AllocatedResources').implement({
  description: 'The resources the scheduler reserved on the node for the allocation.',
  fields: (t) => ({
    tasks: t.field({
      type: [TaskResourcesRef],
      description: 'One entry per task of the group.',
      resolve: (r) => Object.entries(r.Tasks ?? {}).map(([name, resources]) => ({ name, resources })),
    }),
    sharedDiskMB: t.int({ description: 'Ephemeral disk shared by the group\'s tasks, in MB.', resolve: (r) => r.Shared.DiskMB }),
    ports: t.field({
      type: [PortMappingRef],
      description: 'Ports reserved for the group\'s network, shared by its tasks; empty when it has none.',
      resolve: (r) => r.Shared.Ports ?? [],
    }),
  }),
});
