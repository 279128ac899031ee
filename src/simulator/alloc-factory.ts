import type {
  AllocatedResources,
  Allocation,
  Evaluation,
  Job,
  NomadNode,
  ServiceRegistration,
  Task,
  TaskGroup,
} from '../nomad/types.ts';

/** Everything `newAllocation` needs beyond the job: ids, indexes and times come from outside. */
export interface Placement {
  id: string;
  evalId: string;
  job: Job;
  group: TaskGroup;
  /** The `[n]` in the allocation's name. */
  slot: number;
  node: NomadNode;
  index: bigint;
  now: bigint;
  /** Host ports for each port label, in the order of `portLabels(group)`. */
  ports: number[];
  deploymentId: string;
  nodesEvaluated: number;
}

/** The port labels a group's services use, in order of first use. */
export function portLabels(group: TaskGroup): string[] {
  const labels = new Set<string>();
  for (const service of group.Services ?? []) if (service.PortLabel !== '') labels.add(service.PortLabel);
  for (const task of group.Tasks ?? []) {
    for (const service of task.Services ?? []) if (service.PortLabel !== '') labels.add(service.PortLabel);
  }
  return [...labels];
}

function nodeAddress(node: NomadNode): string {
  return node.HTTPAddr.split(':')[0] ?? '127.0.0.1';
}

function allocatedResources(placement: Placement): AllocatedResources {
  const { group, node } = placement;
  const hostIp = nodeAddress(node);
  const ports = portLabels(group).map((label, i) => ({
    Label: label,
    Value: placement.ports[i] ?? 0,
    To: 0,
    HostIP: hostIp,
  }));
  const tasks: AllocatedResources['Tasks'] = {};
  const lifecycles: NonNullable<AllocatedResources['TaskLifecycles']> = {};
  for (const task of group.Tasks ?? []) {
    tasks[task.Name] = {
      Cpu: { CpuShares: task.Resources?.CPU ?? 100, ReservedCores: null },
      Memory: { MemoryMB: task.Resources?.MemoryMB ?? 300, MemoryMaxMB: task.Resources?.MemoryMaxMB ?? 0 },
      Networks: null,
    };
    lifecycles[task.Name] = null;
  }
  return {
    Tasks: tasks,
    TaskLifecycles: lifecycles,
    Shared: {
      DiskMB: 300,
      Networks: [
        {
          Mode: 'host',
          Device: '',
          CIDR: '',
          IP: hostIp,
          MBits: 0,
          ReservedPorts: null,
          DynamicPorts: ports.length === 0 ? null : ports.map((p) => ({ Label: p.Label, Value: p.Value, To: 0, HostNetwork: 'default' })),
        },
      ],
      Ports: ports.length === 0 ? null : ports,
    },
  };
}

/** A freshly placed allocation, as the scheduler's plan writes it: pending, no task states yet. */
export function newAllocation(placement: Placement): Allocation {
  const { job, group, node, index, now } = placement;
  return {
    ID: placement.id,
    Namespace: job.Namespace,
    EvalID: placement.evalId,
    Name: `${job.ID}.${group.Name}[${placement.slot}]`,
    NodeID: node.ID,
    NodeName: node.Name,
    JobID: job.ID,
    Job: job,
    TaskGroup: group.Name,
    AllocatedResources: allocatedResources(placement),
    Metrics: {
      NodesEvaluated: placement.nodesEvaluated,
      NodesFiltered: 0,
      NodesInPool: placement.nodesEvaluated,
      NodesAvailable: { [node.Datacenter]: placement.nodesEvaluated },
      ClassFiltered: null,
      ConstraintFiltered: null,
      NodesExhausted: 0,
      ClassExhausted: null,
      DimensionExhausted: null,
      QuotaExhausted: null,
      Scores: { [`${node.ID}.binpack`]: 0.62 },
      AllocationTime: 41_217n,
      CoalescedFailures: 0,
    },
    DesiredStatus: 'run',
    DesiredDescription: '',
    DesiredTransition: { Migrate: null, Reschedule: null, ForceReschedule: null, NoShutdownDelay: null, MigrateDisablePlacement: null },
    ClientStatus: 'pending',
    ClientDescription: '',
    TaskStates: null,
    AllocStates: null,
    PreviousAllocation: '',
    NextAllocation: '',
    DeploymentID: job.Type === 'service' ? placement.deploymentId : '',
    DeploymentStatus: null,
    RescheduleTracker: null,
    NetworkStatus: null,
    FollowupEvalID: '',
    PreemptedAllocations: null,
    PreemptedByAllocation: '',
    SigningKeyID: '',
    CreateIndex: index,
    ModifyIndex: index,
    AllocModifyIndex: index,
    CreateTime: now,
    ModifyTime: now,
  };
}

/** The Nomad-native service registrations of a running allocation. */
export function serviceRegistrations(alloc: Allocation, node: NomadNode, index: bigint): ServiceRegistration[] {
  const group = alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup);
  if (group === undefined) return [];
  const ports = new Map((alloc.AllocatedResources?.Shared.Ports ?? []).map((p) => [p.Label, p.Value]));
  const entries: { owner: string; service: NonNullable<Task['Services']>[number] }[] = [
    ...(group.Services ?? []).map((service) => ({ owner: `group-${group.Name}`, service })),
    ...(group.Tasks ?? []).flatMap((task) => (task.Services ?? []).map((service) => ({ owner: task.Name, service }))),
  ];
  return entries
    .filter(({ service }) => service.Provider === 'nomad')
    .map(({ owner, service }) => ({
      ID: `_nomad-task-${alloc.ID}-${owner}-${service.Name}-${service.PortLabel}`,
      ServiceName: service.Name,
      Namespace: alloc.Namespace,
      NodeID: node.ID,
      Datacenter: node.Datacenter,
      JobID: alloc.JobID,
      AllocID: alloc.ID,
      Tags: service.Tags,
      Address: nodeAddress(node),
      Port: ports.get(service.PortLabel) ?? 0,
      CreateIndex: index,
      ModifyIndex: index,
    }));
}

export function newEvaluation(fields: {
  id: string;
  job: Job;
  triggeredBy: string;
  index: bigint;
  now: bigint;
  status?: string;
  nodeId?: string;
}): Evaluation {
  return {
    ID: fields.id,
    Namespace: fields.job.Namespace,
    Priority: fields.job.Priority,
    Type: fields.job.Type,
    TriggeredBy: fields.triggeredBy,
    JobID: fields.job.ID,
    JobModifyIndex: fields.job.JobModifyIndex,
    NodeID: fields.nodeId ?? '',
    DeploymentID: '',
    Status: fields.status ?? 'pending',
    StatusDescription: '',
    PreviousEval: '',
    NextEval: '',
    CreateIndex: fields.index,
    ModifyIndex: fields.index,
    CreateTime: fields.now,
    ModifyTime: fields.now,
  };
}
