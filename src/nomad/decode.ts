/**
 * Hand-written decoders from parsed Nomad JSON (`unknown`, see `parseNomadJson`) to the wire types
 * of `types.ts`. No schema library and no casts: each decoder reads the fields it knows with the
 * readers of `decode-fields.ts`, so a 100-allocation page decodes in a few milliseconds.
 *
 * Every decoder throws `NomadDecodeError` with the JSON path of the first bad value. Absent keys
 * become Go zero values (a full Allocation or Evaluation omits its zero-valued fields on the wire),
 * present keys of the wrong JSON type are errors, unknown keys are ignored. 64-bit integers accept
 * a safe JSON number or a digit string and come out as `bigint`.
 *
 * The optional `path` argument of the exported decoders locates the value inside a larger
 * document (e.g. an event-stream payload; build it with `at` from `decode-fields.ts`), so error
 * paths point into that document.
 */
import {
  bool,
  decodeArray,
  enumOf,
  expectObject,
  floatMap,
  int,
  int64,
  intMap,
  ints,
  json,
  jsonObject,
  list,
  map,
  nullable,
  optBool,
  optInt64,
  str,
  stringMap,
  strings,
  struct,
  time,
  uint64,
} from './decode-fields.ts';
import type { DecodePath } from './decode-fields.ts';
import { CLIENT_STATUSES, DESIRED_STATUSES, NODE_STATUSES, TASK_STATE_VALUES } from './types.ts';
import type {
  AllocatedPortMapping,
  AllocatedResources,
  AllocatedTaskResources,
  AllocDeploymentStatus,
  AllocListStub,
  AllocMetric,
  AllocNetworkStatus,
  AllocState,
  AllocStopResponse,
  Allocation,
  DesiredTransition,
  Evaluation,
  GenericResponse,
  Job,
  NetworkResource,
  NodeResources,
  NomadNode,
  Port,
  RescheduleEvent,
  RescheduleTracker,
  RestartPolicy,
  Service,
  ServiceCheck,
  ServiceRegistration,
  Task,
  TaskEvent,
  TaskGroup,
  TaskState,
} from './types.ts';

// ---------------------------------------------------------------------------------------------
// Task states

function decodeTaskEvent(value: unknown, path: DecodePath): TaskEvent {
  const o = expectObject(value, path);
  return {
    Type: str(o, 'Type', path),
    Time: int64(o, 'Time', path),
    Message: str(o, 'Message', path),
    DisplayMessage: str(o, 'DisplayMessage', path),
    Details: stringMap(o, 'Details', path),
    FailsTask: bool(o, 'FailsTask', path),
    RestartReason: str(o, 'RestartReason', path),
    SetupError: str(o, 'SetupError', path),
    DriverError: str(o, 'DriverError', path),
    ExitCode: int(o, 'ExitCode', path),
    Signal: int(o, 'Signal', path),
    KillTimeout: int64(o, 'KillTimeout', path),
    KillError: str(o, 'KillError', path),
    KillReason: str(o, 'KillReason', path),
    StartDelay: int64(o, 'StartDelay', path),
    DownloadError: str(o, 'DownloadError', path),
    ValidationError: str(o, 'ValidationError', path),
    DiskLimit: int(o, 'DiskLimit', path),
    FailedSibling: str(o, 'FailedSibling', path),
    VaultError: str(o, 'VaultError', path),
    TaskSignalReason: str(o, 'TaskSignalReason', path),
    TaskSignal: str(o, 'TaskSignal', path),
    DriverMessage: str(o, 'DriverMessage', path),
    GenericSource: str(o, 'GenericSource', path),
  };
}

function decodeTaskState(value: unknown, path: DecodePath): TaskState {
  const o = expectObject(value, path);
  return {
    State: enumOf(o, 'State', TASK_STATE_VALUES, path),
    Failed: bool(o, 'Failed', path),
    Restarts: int(o, 'Restarts', path),
    LastRestart: time(o, 'LastRestart', path),
    StartedAt: time(o, 'StartedAt', path),
    FinishedAt: time(o, 'FinishedAt', path),
    Events: list(o, 'Events', path, decodeTaskEvent),
    Paused: str(o, 'Paused', path),
    TaskHandle: json(o, 'TaskHandle', path),
  };
}

// ---------------------------------------------------------------------------------------------
// Allocation parts

function decodeDesiredTransition(value: unknown, path: DecodePath): DesiredTransition {
  const o = expectObject(value, path);
  return {
    Migrate: optBool(o, 'Migrate', path),
    Reschedule: optBool(o, 'Reschedule', path),
    ForceReschedule: optBool(o, 'ForceReschedule', path),
    NoShutdownDelay: optBool(o, 'NoShutdownDelay', path),
    MigrateDisablePlacement: optBool(o, 'MigrateDisablePlacement', path),
  };
}

function decodeDeploymentStatus(value: unknown, path: DecodePath): AllocDeploymentStatus {
  const o = expectObject(value, path);
  return {
    Healthy: optBool(o, 'Healthy', path),
    Timestamp: time(o, 'Timestamp', path),
    Canary: bool(o, 'Canary', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
  };
}

function decodeRescheduleEvent(value: unknown, path: DecodePath): RescheduleEvent {
  const o = expectObject(value, path);
  return {
    RescheduleTime: int64(o, 'RescheduleTime', path),
    PrevAllocID: str(o, 'PrevAllocID', path),
    PrevNodeID: str(o, 'PrevNodeID', path),
    Delay: int64(o, 'Delay', path),
  };
}

function decodeRescheduleTracker(value: unknown, path: DecodePath): RescheduleTracker {
  const o = expectObject(value, path);
  return {
    Events: list(o, 'Events', path, decodeRescheduleEvent),
    LastReschedule: str(o, 'LastReschedule', path),
  };
}

function decodePort(value: unknown, path: DecodePath): Port {
  const o = expectObject(value, path);
  return {
    Label: str(o, 'Label', path),
    Value: int(o, 'Value', path),
    To: int(o, 'To', path),
    HostNetwork: str(o, 'HostNetwork', path),
  };
}

function decodeNetworkResource(value: unknown, path: DecodePath): NetworkResource {
  const o = expectObject(value, path);
  return {
    Mode: str(o, 'Mode', path),
    Device: str(o, 'Device', path),
    CIDR: str(o, 'CIDR', path),
    IP: str(o, 'IP', path),
    MBits: int(o, 'MBits', path),
    ReservedPorts: list(o, 'ReservedPorts', path, decodePort),
    DynamicPorts: list(o, 'DynamicPorts', path, decodePort),
  };
}

function decodePortMapping(value: unknown, path: DecodePath): AllocatedPortMapping {
  const o = expectObject(value, path);
  return {
    Label: str(o, 'Label', path),
    Value: int(o, 'Value', path),
    To: int(o, 'To', path),
    HostIP: str(o, 'HostIP', path),
  };
}

function decodeAllocatedTaskResources(value: unknown, path: DecodePath): AllocatedTaskResources {
  const o = expectObject(value, path);
  return {
    Cpu: struct(o, 'Cpu', path, (v, p) => {
      const cpu = expectObject(v, p);
      return { CpuShares: int(cpu, 'CpuShares', p), ReservedCores: ints(cpu, 'ReservedCores', p) };
    }),
    Memory: struct(o, 'Memory', path, (v, p) => {
      const memory = expectObject(v, p);
      return { MemoryMB: int(memory, 'MemoryMB', p), MemoryMaxMB: int(memory, 'MemoryMaxMB', p) };
    }),
    Networks: list(o, 'Networks', path, decodeNetworkResource),
  };
}

function decodeTaskLifecycle(value: unknown, path: DecodePath): { Hook: string; Sidecar: boolean } | null {
  if (value === null) return null;
  const o = expectObject(value, path);
  return { Hook: str(o, 'Hook', path), Sidecar: bool(o, 'Sidecar', path) };
}

function decodeAllocatedResources(value: unknown, path: DecodePath): AllocatedResources {
  const o = expectObject(value, path);
  return {
    Tasks: map(o, 'Tasks', path, decodeAllocatedTaskResources),
    TaskLifecycles: map(o, 'TaskLifecycles', path, decodeTaskLifecycle),
    Shared: struct(o, 'Shared', path, (v, p) => {
      const shared = expectObject(v, p);
      return {
        DiskMB: int(shared, 'DiskMB', p),
        Networks: list(shared, 'Networks', p, decodeNetworkResource),
        Ports: list(shared, 'Ports', p, decodePortMapping),
      };
    }),
  };
}

function decodeAllocMetric(value: unknown, path: DecodePath): AllocMetric {
  const o = expectObject(value, path);
  return {
    NodesEvaluated: int(o, 'NodesEvaluated', path),
    NodesFiltered: int(o, 'NodesFiltered', path),
    NodesInPool: int(o, 'NodesInPool', path),
    NodesAvailable: intMap(o, 'NodesAvailable', path),
    ClassFiltered: intMap(o, 'ClassFiltered', path),
    ConstraintFiltered: intMap(o, 'ConstraintFiltered', path),
    NodesExhausted: int(o, 'NodesExhausted', path),
    ClassExhausted: intMap(o, 'ClassExhausted', path),
    DimensionExhausted: intMap(o, 'DimensionExhausted', path),
    QuotaExhausted: strings(o, 'QuotaExhausted', path),
    Scores: floatMap(o, 'Scores', path),
    AllocationTime: int64(o, 'AllocationTime', path),
    CoalescedFailures: int(o, 'CoalescedFailures', path),
  };
}

function decodeNetworkStatus(value: unknown, path: DecodePath): AllocNetworkStatus {
  const o = expectObject(value, path);
  return {
    InterfaceName: str(o, 'InterfaceName', path),
    Address: str(o, 'Address', path),
    AddressIPv6: str(o, 'AddressIPv6', path),
    DNS: nullable(o, 'DNS', path, (v, p) => {
      const dns = expectObject(v, p);
      return {
        Servers: strings(dns, 'Servers', p),
        Searches: strings(dns, 'Searches', p),
        Options: strings(dns, 'Options', p),
      };
    }),
  };
}

function decodeAllocState(value: unknown, path: DecodePath): AllocState {
  const o = expectObject(value, path);
  return { Field: int(o, 'Field', path), Value: str(o, 'Value', path), Time: time(o, 'Time', path) };
}

// ---------------------------------------------------------------------------------------------
// Job

function decodeServiceCheck(value: unknown, path: DecodePath): ServiceCheck {
  const o = expectObject(value, path);
  return {
    Name: str(o, 'Name', path),
    Type: str(o, 'Type', path),
    Path: str(o, 'Path', path),
    Interval: int64(o, 'Interval', path),
    Timeout: int64(o, 'Timeout', path),
  };
}

function decodeService(value: unknown, path: DecodePath): Service {
  const o = expectObject(value, path);
  return {
    Name: str(o, 'Name', path),
    PortLabel: str(o, 'PortLabel', path),
    Provider: str(o, 'Provider', path),
    Tags: strings(o, 'Tags', path),
    Checks: list(o, 'Checks', path, decodeServiceCheck),
  };
}

function decodeTask(value: unknown, path: DecodePath): Task {
  const o = expectObject(value, path);
  return {
    Name: str(o, 'Name', path),
    Driver: str(o, 'Driver', path),
    User: str(o, 'User', path),
    Config: jsonObject(o, 'Config', path),
    Env: stringMap(o, 'Env', path),
    Services: list(o, 'Services', path, decodeService),
    Resources: nullable(o, 'Resources', path, (v, p) => {
      const r = expectObject(v, p);
      return {
        CPU: int(r, 'CPU', p),
        Cores: int(r, 'Cores', p),
        MemoryMB: int(r, 'MemoryMB', p),
        MemoryMaxMB: int(r, 'MemoryMaxMB', p),
      };
    }),
    Meta: stringMap(o, 'Meta', path),
    KillTimeout: int64(o, 'KillTimeout', path),
    ShutdownDelay: int64(o, 'ShutdownDelay', path),
    Leader: bool(o, 'Leader', path),
  };
}

function decodeRestartPolicy(value: unknown, path: DecodePath): RestartPolicy {
  const o = expectObject(value, path);
  return {
    Attempts: int(o, 'Attempts', path),
    Interval: int64(o, 'Interval', path),
    Delay: int64(o, 'Delay', path),
    Mode: str(o, 'Mode', path),
  };
}

function decodeTaskGroup(value: unknown, path: DecodePath): TaskGroup {
  const o = expectObject(value, path);
  return {
    Name: str(o, 'Name', path),
    Count: int(o, 'Count', path),
    Tasks: list(o, 'Tasks', path, decodeTask),
    Services: list(o, 'Services', path, decodeService),
    RestartPolicy: nullable(o, 'RestartPolicy', path, decodeRestartPolicy),
    Meta: stringMap(o, 'Meta', path),
    ShutdownDelay: optInt64(o, 'ShutdownDelay', path),
  };
}

/** Decodes a job (`GET /v1/job/:id`, or `Allocation.Job`). */
export function decodeJob(value: unknown, path?: DecodePath): Job {
  const o = expectObject(value, path);
  return {
    Region: str(o, 'Region', path),
    Namespace: str(o, 'Namespace', path),
    ID: str(o, 'ID', path),
    ParentID: str(o, 'ParentID', path),
    Name: str(o, 'Name', path),
    Type: str(o, 'Type', path),
    Priority: int(o, 'Priority', path),
    AllAtOnce: bool(o, 'AllAtOnce', path),
    Datacenters: strings(o, 'Datacenters', path),
    NodePool: str(o, 'NodePool', path),
    TaskGroups: list(o, 'TaskGroups', path, decodeTaskGroup),
    Meta: stringMap(o, 'Meta', path),
    Stop: bool(o, 'Stop', path),
    Status: str(o, 'Status', path),
    StatusDescription: str(o, 'StatusDescription', path),
    Stable: bool(o, 'Stable', path),
    Version: int(o, 'Version', path),
    SubmitTime: int64(o, 'SubmitTime', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
    JobModifyIndex: uint64(o, 'JobModifyIndex', path),
  };
}

// ---------------------------------------------------------------------------------------------
// Allocations

/**
 * Decodes a full allocation (`GET /v1/allocation/:id`, event-stream payloads). Nomad omits every
 * zero-valued top-level field; they come back as Go zero values, `DesiredTransition` as all-null.
 * `ClientStatus` and `DesiredStatus` are required and checked against their enums.
 */
export function decodeAllocation(value: unknown, path?: DecodePath): Allocation {
  const o = expectObject(value, path);
  return {
    ID: str(o, 'ID', path),
    Namespace: str(o, 'Namespace', path),
    EvalID: str(o, 'EvalID', path),
    Name: str(o, 'Name', path),
    NodeID: str(o, 'NodeID', path),
    NodeName: str(o, 'NodeName', path),
    JobID: str(o, 'JobID', path),
    Job: nullable(o, 'Job', path, decodeJob),
    TaskGroup: str(o, 'TaskGroup', path),
    AllocatedResources: nullable(o, 'AllocatedResources', path, decodeAllocatedResources),
    Metrics: nullable(o, 'Metrics', path, decodeAllocMetric),
    DesiredStatus: enumOf(o, 'DesiredStatus', DESIRED_STATUSES, path),
    DesiredDescription: str(o, 'DesiredDescription', path),
    DesiredTransition: struct(o, 'DesiredTransition', path, decodeDesiredTransition),
    ClientStatus: enumOf(o, 'ClientStatus', CLIENT_STATUSES, path),
    ClientDescription: str(o, 'ClientDescription', path),
    TaskStates: map(o, 'TaskStates', path, decodeTaskState),
    AllocStates: list(o, 'AllocStates', path, decodeAllocState),
    PreviousAllocation: str(o, 'PreviousAllocation', path),
    NextAllocation: str(o, 'NextAllocation', path),
    DeploymentID: str(o, 'DeploymentID', path),
    DeploymentStatus: nullable(o, 'DeploymentStatus', path, decodeDeploymentStatus),
    RescheduleTracker: nullable(o, 'RescheduleTracker', path, decodeRescheduleTracker),
    NetworkStatus: nullable(o, 'NetworkStatus', path, decodeNetworkStatus),
    FollowupEvalID: str(o, 'FollowupEvalID', path),
    PreemptedAllocations: strings(o, 'PreemptedAllocations', path),
    PreemptedByAllocation: str(o, 'PreemptedByAllocation', path),
    SigningKeyID: str(o, 'SigningKeyID', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
    AllocModifyIndex: uint64(o, 'AllocModifyIndex', path),
    CreateTime: int64(o, 'CreateTime', path),
    ModifyTime: int64(o, 'ModifyTime', path),
  };
}

/** Decodes the body of `GET /v1/node/:id/allocations`: a JSON array of full allocations, paths `$[i]…`. */
export function decodeAllocations(value: unknown, path?: DecodePath): Allocation[] {
  return decodeArray(value, path, decodeAllocation);
}

/** Decodes one element of `GET /v1/allocations`. Missing keys get Go zero values. */
export function decodeAllocListStub(value: unknown, path?: DecodePath): AllocListStub {
  const o = expectObject(value, path);
  return {
    ID: str(o, 'ID', path),
    EvalID: str(o, 'EvalID', path),
    Name: str(o, 'Name', path),
    Namespace: str(o, 'Namespace', path),
    NodeID: str(o, 'NodeID', path),
    NodeName: str(o, 'NodeName', path),
    JobID: str(o, 'JobID', path),
    JobType: str(o, 'JobType', path),
    JobVersion: int(o, 'JobVersion', path),
    TaskGroup: str(o, 'TaskGroup', path),
    AllocatedResources: nullable(o, 'AllocatedResources', path, decodeAllocatedResources),
    DesiredStatus: enumOf(o, 'DesiredStatus', DESIRED_STATUSES, path),
    DesiredDescription: str(o, 'DesiredDescription', path),
    DesiredTransition: struct(o, 'DesiredTransition', path, decodeDesiredTransition),
    ClientStatus: enumOf(o, 'ClientStatus', CLIENT_STATUSES, path),
    ClientDescription: str(o, 'ClientDescription', path),
    TaskStates: map(o, 'TaskStates', path, decodeTaskState),
    DeploymentStatus: nullable(o, 'DeploymentStatus', path, decodeDeploymentStatus),
    FollowupEvalID: str(o, 'FollowupEvalID', path),
    NextAllocation: str(o, 'NextAllocation', path),
    RescheduleTracker: nullable(o, 'RescheduleTracker', path, decodeRescheduleTracker),
    PreemptedAllocations: strings(o, 'PreemptedAllocations', path),
    PreemptedByAllocation: str(o, 'PreemptedByAllocation', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
    CreateTime: int64(o, 'CreateTime', path),
    ModifyTime: int64(o, 'ModifyTime', path),
  };
}

/** Decodes the body of `GET /v1/allocations`: a JSON array of stubs, paths `$[i]…`. */
export function decodeAllocListStubs(value: unknown, path?: DecodePath): AllocListStub[] {
  return decodeArray(value, path, decodeAllocListStub);
}

function decodeServiceRegistration(value: unknown, path: DecodePath): ServiceRegistration {
  const o = expectObject(value, path);
  return {
    ID: str(o, 'ID', path),
    ServiceName: str(o, 'ServiceName', path),
    Namespace: str(o, 'Namespace', path),
    NodeID: str(o, 'NodeID', path),
    Datacenter: str(o, 'Datacenter', path),
    JobID: str(o, 'JobID', path),
    AllocID: str(o, 'AllocID', path),
    Tags: strings(o, 'Tags', path),
    Address: str(o, 'Address', path),
    Port: int(o, 'Port', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
  };
}

/** Decodes the body of `GET /v1/allocation/:id/services`: a JSON array. */
export function decodeServiceRegistrations(value: unknown, path?: DecodePath): ServiceRegistration[] {
  return decodeArray(value, path, decodeServiceRegistration);
}

// ---------------------------------------------------------------------------------------------
// Nodes, evaluations, write responses

function decodeNodeResources(value: unknown, path: DecodePath): NodeResources {
  const o = expectObject(value, path);
  return {
    Cpu: struct(o, 'Cpu', path, (v, p) => {
      const cpu = expectObject(v, p);
      return { CpuShares: int(cpu, 'CpuShares', p), TotalCpuCores: int(cpu, 'TotalCpuCores', p) };
    }),
    Memory: struct(o, 'Memory', path, (v, p) => ({ MemoryMB: int(expectObject(v, p), 'MemoryMB', p) })),
    Disk: struct(o, 'Disk', path, (v, p) => ({ DiskMB: int(expectObject(v, p), 'DiskMB', p) })),
  };
}

/** Decodes a node (`GET /v1/node/:id`). `Status` is required and checked against its enum. */
export function decodeNode(value: unknown, path?: DecodePath): NomadNode {
  const o = expectObject(value, path);
  return {
    ID: str(o, 'ID', path),
    Name: str(o, 'Name', path),
    Datacenter: str(o, 'Datacenter', path),
    NodeClass: str(o, 'NodeClass', path),
    NodePool: str(o, 'NodePool', path),
    HTTPAddr: str(o, 'HTTPAddr', path),
    Status: enumOf(o, 'Status', NODE_STATUSES, path),
    StatusDescription: str(o, 'StatusDescription', path),
    SchedulingEligibility: str(o, 'SchedulingEligibility', path),
    DrainStrategy: jsonObject(o, 'DrainStrategy', path),
    Attributes: stringMap(o, 'Attributes', path),
    Meta: stringMap(o, 'Meta', path),
    NodeResources: nullable(o, 'NodeResources', path, decodeNodeResources),
    StatusUpdatedAt: int(o, 'StatusUpdatedAt', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
  };
}

/** Decodes an evaluation (`GET /v1/evaluation/:id`); omitted zero fields get zero values. */
export function decodeEvaluation(value: unknown, path?: DecodePath): Evaluation {
  const o = expectObject(value, path);
  return {
    ID: str(o, 'ID', path),
    Namespace: str(o, 'Namespace', path),
    Priority: int(o, 'Priority', path),
    Type: str(o, 'Type', path),
    TriggeredBy: str(o, 'TriggeredBy', path),
    JobID: str(o, 'JobID', path),
    JobModifyIndex: uint64(o, 'JobModifyIndex', path),
    NodeID: str(o, 'NodeID', path),
    DeploymentID: str(o, 'DeploymentID', path),
    Status: str(o, 'Status', path),
    StatusDescription: str(o, 'StatusDescription', path),
    PreviousEval: str(o, 'PreviousEval', path),
    NextEval: str(o, 'NextEval', path),
    CreateIndex: uint64(o, 'CreateIndex', path),
    ModifyIndex: uint64(o, 'ModifyIndex', path),
    CreateTime: int64(o, 'CreateTime', path),
    ModifyTime: int64(o, 'ModifyTime', path),
  };
}

/** Decodes `POST /v1/allocation/:id/stop`: `{"EvalID":…,"Index":…}`. */
export function decodeStopResponse(value: unknown, path?: DecodePath): AllocStopResponse {
  const o = expectObject(value, path);
  return { EvalID: str(o, 'EvalID', path), Index: uint64(o, 'Index', path) };
}

/** Decodes signal/restart answers: `{"Index":0}` (or `{}` as the docs show). */
export function decodeGenericResponse(value: unknown, path?: DecodePath): GenericResponse {
  const o = expectObject(value, path);
  return { Index: uint64(o, 'Index', path) };
}
