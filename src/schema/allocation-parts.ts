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
    migrate: t.boolean({ nullable: true, resolve: (d) => d.Migrate }),
    reschedule: t.boolean({ nullable: true, resolve: (d) => d.Reschedule }),
    forceReschedule: t.boolean({ nullable: true, resolve: (d) => d.ForceReschedule }),
    noShutdownDelay: t.boolean({ nullable: true, resolve: (d) => d.NoShutdownDelay }),
    migrateDisablePlacement: t.boolean({ nullable: true, resolve: (d) => d.MigrateDisablePlacement }),
  }),
});

export const DeploymentStatusRef = builder.objectRef<AllocDeploymentStatus>('DeploymentStatus').implement({
  fields: (t) => ({
    healthy: t.boolean({ nullable: true, description: 'Null until the deployment has judged it.', resolve: (d) => d.Healthy }),
    timestamp: t.field({ type: 'DateTime', nullable: true, resolve: (d) => dateTimeFromText(d.Timestamp) }),
    canary: t.exposeBoolean('Canary'),
    modifyIndex: t.field({ type: 'Uint64', resolve: (d) => d.ModifyIndex }),
  }),
});

const RescheduleEventRef = builder.objectRef<RescheduleEvent>('RescheduleEvent').implement({
  fields: (t) => ({
    rescheduleTime: t.field({ type: 'DateTime', nullable: true, resolve: (e) => dateTimeFromNanos(e.RescheduleTime) }),
    prevAllocId: t.exposeID('PrevAllocID'),
    prevNodeId: t.exposeID('PrevNodeID'),
    delay: t.field({ type: 'Duration', resolve: (e) => e.Delay }),
  }),
});

export const RescheduleTrackerRef = builder.objectRef<RescheduleTracker>('RescheduleTracker').implement({
  description: 'The reschedule attempts that led to this allocation.',
  fields: (t) => ({
    events: t.field({ type: [RescheduleEventRef], resolve: (r) => r.Events ?? [] }),
    lastReschedule: t.string({ nullable: true, resolve: (r) => (r.LastReschedule === '' ? null : r.LastReschedule) }),
  }),
});

export const AllocationMetricsRef = builder.objectRef<AllocMetric>('AllocationMetrics').implement({
  description: 'How the scheduler placed the allocation.',
  fields: (t) => ({
    nodesEvaluated: t.exposeInt('NodesEvaluated'),
    nodesFiltered: t.exposeInt('NodesFiltered'),
    nodesInPool: t.exposeInt('NodesInPool'),
    nodesAvailable: t.field({ type: 'JSON', nullable: true, description: 'Per datacenter.', resolve: (m) => m.NodesAvailable }),
    classFiltered: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.ClassFiltered }),
    constraintFiltered: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.ConstraintFiltered }),
    nodesExhausted: t.exposeInt('NodesExhausted'),
    classExhausted: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.ClassExhausted }),
    dimensionExhausted: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.DimensionExhausted }),
    quotaExhausted: t.stringList({ resolve: (m) => m.QuotaExhausted ?? [] }),
    scores: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.Scores }),
    allocationTime: t.field({ type: 'Duration', resolve: (m) => m.AllocationTime }),
    coalescedFailures: t.exposeInt('CoalescedFailures'),
  }),
});

export const AllocStateRef = builder.objectRef<AllocState>('AllocationStateChange').implement({
  fields: (t) => ({
    field: t.exposeString('Field'),
    value: t.exposeString('Value'),
    time: t.field({ type: 'DateTime', nullable: true, resolve: (s) => dateTimeFromText(s.Time) }),
  }),
});

export const NetworkStatusRef = builder.objectRef<AllocNetworkStatus>('AllocationNetworkStatus').implement({
  fields: (t) => ({
    interfaceName: t.exposeString('InterfaceName'),
    address: t.exposeString('Address'),
    addressIPv6: t.exposeString('AddressIPv6'),
    dns: t.field({ type: 'JSON', nullable: true, resolve: (s) => s.DNS }),
  }),
});

const PortMappingRef = builder.objectRef<AllocatedPortMapping>('AllocatedPort').implement({
  fields: (t) => ({
    label: t.exposeString('Label'),
    value: t.exposeInt('Value', { description: 'The host port.' }),
    to: t.exposeInt('To', { description: 'The port inside the task\'s network namespace, 0 when the same.' }),
    hostIp: t.exposeString('HostIP'),
  }),
});

const TaskResourcesRef = builder.objectRef<{ name: string; resources: AllocatedTaskResources }>('AllocatedTaskResources').implement({
  fields: (t) => ({
    task: t.exposeString('name'),
    cpuShares: t.int({ description: 'MHz.', resolve: ({ resources }) => resources.Cpu.CpuShares }),
    reservedCores: t.intList({ resolve: ({ resources }) => resources.Cpu.ReservedCores ?? [] }),
    memoryMB: t.int({ resolve: ({ resources }) => resources.Memory.MemoryMB }),
    memoryMaxMB: t.int({ resolve: ({ resources }) => resources.Memory.MemoryMaxMB }),
  }),
});

export const AllocatedResourcesRef = builder.objectRef<AllocatedResources>('AllocatedResources').implement({
  fields: (t) => ({
    tasks: t.field({
      type: [TaskResourcesRef],
      resolve: (r) => Object.entries(r.Tasks ?? {}).map(([name, resources]) => ({ name, resources })),
    }),
    sharedDiskMB: t.int({ resolve: (r) => r.Shared.DiskMB }),
    ports: t.field({ type: [PortMappingRef], resolve: (r) => r.Shared.Ports ?? [] }),
  }),
});
