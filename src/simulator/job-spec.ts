import type { Job, Service, Task, TaskGroup } from '../nomad/types.ts';

/** A compact job description for the programmatic API; `toJob` fills in Nomad's defaults. */
export interface JobSpec {
  id: string;
  /** @default 'default' */
  namespace?: string;
  /** @default 'service' */
  type?: 'service' | 'batch' | 'system';
  /** @default 50 */
  priority?: number;
  /** @default ['dc1'] */
  datacenters?: string[];
  meta?: Record<string, string>;
  /** @default one group named after the job, count 1, one task `server` */
  groups?: GroupSpec[];
  /** Shorthand for the count of the default group. */
  count?: number;
}

export interface GroupSpec {
  name: string;
  /** @default 1 */
  count?: number;
  /** @default one task `server` */
  tasks?: TaskSpec[];
  meta?: Record<string, string>;
}

export interface TaskSpec {
  name: string;
  /** @default 'docker' */
  driver?: string;
  /** Nomad-native services; each gets a dynamic port with the given label. */
  services?: { name: string; portLabel?: string; tags?: string[] }[];
  cpu?: number;
  memoryMB?: number;
  meta?: Record<string, string>;
}

function toService(spec: NonNullable<TaskSpec['services']>[number]): Service {
  return { Name: spec.name, PortLabel: spec.portLabel ?? 'http', Provider: 'nomad', Tags: spec.tags ?? null, Checks: null };
}

function toTask(spec: TaskSpec): Task {
  return {
    Name: spec.name,
    Driver: spec.driver ?? 'docker',
    User: '',
    Config: spec.driver === 'raw_exec' || spec.driver === 'exec' ? { command: '/bin/sh' } : { image: `${spec.name}:latest` },
    Env: null,
    Services: spec.services === undefined ? null : spec.services.map(toService),
    Resources: { CPU: spec.cpu ?? 100, Cores: 0, MemoryMB: spec.memoryMB ?? 128, MemoryMaxMB: 0 },
    Meta: spec.meta ?? null,
    KillTimeout: 5_000_000_000n,
    ShutdownDelay: 0n,
    Leader: false,
  };
}

function toGroup(spec: GroupSpec): TaskGroup {
  return {
    Name: spec.name,
    Count: spec.count ?? 1,
    Tasks: (spec.tasks ?? [{ name: 'server' }]).map(toTask),
    Services: null,
    RestartPolicy: { Attempts: 2, Interval: 1_800_000_000_000n, Delay: 15_000_000_000n, Mode: 'fail' },
    Meta: spec.meta ?? null,
    ShutdownDelay: null,
  };
}

/** The Job object for a spec, at the given raft index and time. */
export function toJob(spec: JobSpec, fields: { region: string; index: bigint; now: bigint }): Job {
  const groups = spec.groups ?? [{ name: spec.id, count: spec.count ?? 1 }];
  return {
    Region: fields.region,
    Namespace: spec.namespace ?? 'default',
    ID: spec.id,
    ParentID: '',
    Name: spec.id,
    Type: spec.type ?? 'service',
    Priority: spec.priority ?? 50,
    AllAtOnce: false,
    Datacenters: spec.datacenters ?? ['dc1'],
    NodePool: 'default',
    TaskGroups: groups.map(toGroup),
    Meta: spec.meta ?? null,
    Stop: false,
    Status: 'running',
    StatusDescription: '',
    Stable: true,
    Version: 0,
    SubmitTime: fields.now,
    CreateIndex: fields.index,
    ModifyIndex: fields.index,
    JobModifyIndex: fields.index,
  };
}
