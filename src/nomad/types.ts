/**
 * Nomad's wire types, spelled as the HTTP API spells them.
 *
 * Both sides of the wire use these: the client decodes responses into them (`decode.ts`) and the
 * simulator keeps its state in them and encodes them (`json.ts`). Number rules:
 * - Go `uint64`/`int64` values that can pass 2^53 (raft indexes, Unix-nanosecond timestamps,
 *   `time.Duration` nanoseconds) are `bigint`, so nothing is rounded.
 * - Small counters and codes (`Restarts`, `ExitCode`, `Port`, `JobVersion`...) are `number`; the
 *   decoder refuses a value that is not a safe integer rather than rounding it.
 * - Go's zero `time.Time` is `null`; other times are RFC 3339 strings as Nomad sent them.
 * - Go nil slices and maps are `null`, as on the wire.
 */

/** A raft index (Go uint64). */
export type Uint64 = bigint;
/** Unix time in nanoseconds (Go int64), e.g. `CreateTime`, `TaskEvent.Time`. */
export type UnixNanos = bigint;
/** A Go `time.Duration`: integer nanoseconds. */
export type DurationNanos = bigint;
/** An RFC 3339 time string, or null for Go's zero time. */
export type Rfc3339 = string | null;

/** Any JSON value, for the few opaque fields (driver config, task handles). */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

export const CLIENT_STATUSES = ['pending', 'running', 'complete', 'failed', 'lost', 'unknown'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

export const DESIRED_STATUSES = ['run', 'stop', 'evict'] as const;
export type DesiredStatus = (typeof DESIRED_STATUSES)[number];

export const TASK_STATE_VALUES = ['pending', 'running', 'dead'] as const;
export type TaskStateValue = (typeof TASK_STATE_VALUES)[number];

export const NODE_STATUSES = ['initializing', 'ready', 'down', 'disconnected'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface TaskEvent {
  Type: string;
  Time: UnixNanos;
  Message: string;
  DisplayMessage: string;
  Details: Record<string, string> | null;
  FailsTask: boolean;
  RestartReason: string;
  SetupError: string;
  DriverError: string;
  ExitCode: number;
  Signal: number;
  KillTimeout: DurationNanos;
  KillError: string;
  KillReason: string;
  StartDelay: DurationNanos;
  DownloadError: string;
  ValidationError: string;
  DiskLimit: number;
  FailedSibling: string;
  VaultError: string;
  TaskSignalReason: string;
  TaskSignal: string;
  DriverMessage: string;
  GenericSource: string;
}

export interface TaskState {
  State: TaskStateValue;
  Failed: boolean;
  Restarts: number;
  LastRestart: Rfc3339;
  StartedAt: Rfc3339;
  FinishedAt: Rfc3339;
  Events: TaskEvent[] | null;
  /** `""`, `force_run`, `scheduled_pause`, `force_pause` or `schedule_resume`. */
  Paused: string;
  TaskHandle: JsonValue;
}

/** Every member is a Go `*bool`: null means "not set". */
export interface DesiredTransition {
  Migrate: boolean | null;
  Reschedule: boolean | null;
  ForceReschedule: boolean | null;
  NoShutdownDelay: boolean | null;
  MigrateDisablePlacement: boolean | null;
}

export interface AllocDeploymentStatus {
  Healthy: boolean | null;
  Timestamp: Rfc3339;
  Canary: boolean;
  ModifyIndex: Uint64;
}

export interface RescheduleEvent {
  RescheduleTime: UnixNanos;
  PrevAllocID: string;
  PrevNodeID: string;
  Delay: DurationNanos;
}

export interface RescheduleTracker {
  Events: RescheduleEvent[] | null;
  LastReschedule: string;
}

export interface Port {
  Label: string;
  Value: number;
  To: number;
  HostNetwork: string;
}

export interface NetworkResource {
  Mode: string;
  Device: string;
  CIDR: string;
  IP: string;
  MBits: number;
  ReservedPorts: Port[] | null;
  DynamicPorts: Port[] | null;
}

export interface AllocatedPortMapping {
  Label: string;
  Value: number;
  To: number;
  HostIP: string;
}

export interface AllocatedTaskResources {
  Cpu: { CpuShares: number; ReservedCores: number[] | null };
  Memory: { MemoryMB: number; MemoryMaxMB: number };
  Networks: NetworkResource[] | null;
}

export interface AllocatedResources {
  Tasks: Record<string, AllocatedTaskResources> | null;
  TaskLifecycles: Record<string, { Hook: string; Sidecar: boolean } | null> | null;
  Shared: {
    DiskMB: number;
    Networks: NetworkResource[] | null;
    Ports: AllocatedPortMapping[] | null;
  };
}

export interface AllocMetric {
  NodesEvaluated: number;
  NodesFiltered: number;
  NodesInPool: number;
  NodesAvailable: Record<string, number> | null;
  ClassFiltered: Record<string, number> | null;
  ConstraintFiltered: Record<string, number> | null;
  NodesExhausted: number;
  ClassExhausted: Record<string, number> | null;
  DimensionExhausted: Record<string, number> | null;
  QuotaExhausted: string[] | null;
  Scores: Record<string, number> | null;
  AllocationTime: DurationNanos;
  CoalescedFailures: number;
}

export interface AllocNetworkStatus {
  InterfaceName: string;
  Address: string;
  AddressIPv6: string;
  DNS: { Servers: string[] | null; Searches: string[] | null; Options: string[] | null } | null;
}

export interface AllocState {
  /** Which allocation field changed: Nomad's `AllocStateField`, a small integer (0: the client status). */
  Field: number;
  Value: string;
  Time: Rfc3339;
}

export interface ServiceCheck {
  Name: string;
  Type: string;
  Path: string;
  Interval: DurationNanos;
  Timeout: DurationNanos;
}

export interface Service {
  Name: string;
  PortLabel: string;
  Provider: string;
  Tags: string[] | null;
  Checks: ServiceCheck[] | null;
}

export interface Task {
  Name: string;
  Driver: string;
  User: string;
  Config: Record<string, JsonValue> | null;
  Env: Record<string, string> | null;
  Services: Service[] | null;
  Resources: { CPU: number; Cores: number; MemoryMB: number; MemoryMaxMB: number } | null;
  Meta: Record<string, string> | null;
  KillTimeout: DurationNanos;
  ShutdownDelay: DurationNanos;
  Leader: boolean;
}

export interface RestartPolicy {
  Attempts: number;
  Interval: DurationNanos;
  Delay: DurationNanos;
  Mode: string;
}

export interface TaskGroup {
  Name: string;
  Count: number;
  Tasks: Task[] | null;
  Services: Service[] | null;
  RestartPolicy: RestartPolicy | null;
  Meta: Record<string, string> | null;
  ShutdownDelay: DurationNanos | null;
}

export interface Job {
  Region: string;
  Namespace: string;
  ID: string;
  ParentID: string;
  Name: string;
  Type: string;
  Priority: number;
  AllAtOnce: boolean;
  Datacenters: string[] | null;
  NodePool: string;
  TaskGroups: TaskGroup[] | null;
  Meta: Record<string, string> | null;
  Stop: boolean;
  Status: string;
  StatusDescription: string;
  Stable: boolean;
  Version: number;
  SubmitTime: UnixNanos;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
  JobModifyIndex: Uint64;
}

/**
 * A full allocation (`GET /v1/allocation/:id`). On the wire Nomad omits every zero-valued
 * top-level field; the decoder restores Go's zero values, so every member is always present.
 */
export interface Allocation {
  ID: string;
  Namespace: string;
  EvalID: string;
  Name: string;
  NodeID: string;
  NodeName: string;
  JobID: string;
  Job: Job | null;
  TaskGroup: string;
  AllocatedResources: AllocatedResources | null;
  Metrics: AllocMetric | null;
  DesiredStatus: DesiredStatus;
  DesiredDescription: string;
  DesiredTransition: DesiredTransition;
  ClientStatus: ClientStatus;
  ClientDescription: string;
  TaskStates: Record<string, TaskState> | null;
  AllocStates: AllocState[] | null;
  PreviousAllocation: string;
  NextAllocation: string;
  DeploymentID: string;
  DeploymentStatus: AllocDeploymentStatus | null;
  RescheduleTracker: RescheduleTracker | null;
  NetworkStatus: AllocNetworkStatus | null;
  FollowupEvalID: string;
  PreemptedAllocations: string[] | null;
  PreemptedByAllocation: string;
  SigningKeyID: string;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
  AllocModifyIndex: Uint64;
  CreateTime: UnixNanos;
  ModifyTime: UnixNanos;
}

/** An element of `GET /v1/allocations`. Every key is on the wire except `AllocatedResources`. */
export interface AllocListStub {
  ID: string;
  EvalID: string;
  Name: string;
  Namespace: string;
  NodeID: string;
  NodeName: string;
  JobID: string;
  JobType: string;
  JobVersion: number;
  TaskGroup: string;
  /** Present only when the list was asked for `resources=true`. */
  AllocatedResources: AllocatedResources | null;
  DesiredStatus: DesiredStatus;
  DesiredDescription: string;
  DesiredTransition: DesiredTransition;
  ClientStatus: ClientStatus;
  ClientDescription: string;
  /** `null` when the list was asked for `task_states=false`. */
  TaskStates: Record<string, TaskState> | null;
  DeploymentStatus: AllocDeploymentStatus | null;
  FollowupEvalID: string;
  NextAllocation: string;
  RescheduleTracker: RescheduleTracker | null;
  PreemptedAllocations: string[] | null;
  PreemptedByAllocation: string;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
  CreateTime: UnixNanos;
  ModifyTime: UnixNanos;
}

export interface ServiceRegistration {
  ID: string;
  ServiceName: string;
  Namespace: string;
  NodeID: string;
  Datacenter: string;
  JobID: string;
  AllocID: string;
  Tags: string[] | null;
  Address: string;
  Port: number;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
}

export interface NodeResources {
  Cpu: { CpuShares: number; TotalCpuCores: number };
  Memory: { MemoryMB: number };
  Disk: { DiskMB: number };
}

export interface NomadNode {
  ID: string;
  Name: string;
  Datacenter: string;
  NodeClass: string;
  NodePool: string;
  HTTPAddr: string;
  Status: NodeStatus;
  StatusDescription: string;
  SchedulingEligibility: string;
  /**
   * How the node is being drained; null while it is not. The full node has no `Drain` flag (only
   * Nomad's node list stubs do).
   */
  DrainStrategy: Record<string, JsonValue> | null;
  Attributes: Record<string, string> | null;
  Meta: Record<string, string> | null;
  NodeResources: NodeResources | null;
  StatusUpdatedAt: number;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
}

export interface Evaluation {
  ID: string;
  Namespace: string;
  Priority: number;
  Type: string;
  TriggeredBy: string;
  JobID: string;
  JobModifyIndex: Uint64;
  NodeID: string;
  DeploymentID: string;
  Status: string;
  StatusDescription: string;
  PreviousEval: string;
  NextEval: string;
  CreateIndex: Uint64;
  ModifyIndex: Uint64;
  CreateTime: UnixNanos;
  ModifyTime: UnixNanos;
}

/** `POST /v1/allocation/:id/stop`. */
export interface AllocStopResponse {
  EvalID: string;
  Index: Uint64;
}

/** `/v1/client/allocation/:id/{signal,restart}`: Nomad answers `{"Index":0}`. */
export interface GenericResponse {
  Index: Uint64;
}

/** The `X-Nomad-*` headers of a read. */
export interface QueryMeta {
  /** `X-Nomad-Index`; 0n when absent. */
  LastIndex: Uint64;
  /** `X-Nomad-KnownLeader` is exactly `true`. */
  KnownLeader: boolean;
  /** `X-Nomad-LastContact`, milliseconds. */
  LastContact: number;
  /** `X-Nomad-NextToken`; empty when there is no further page. */
  NextToken: string;
}
