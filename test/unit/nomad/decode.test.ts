import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeAllocation,
  decodeAllocListStub,
  decodeAllocListStubs,
  decodeEvaluation,
  decodeGenericResponse,
  decodeJob,
  decodeNode,
  decodeServiceRegistrations,
  decodeStopResponse,
} from '../../../src/nomad/decode.ts';
import { at } from '../../../src/nomad/decode-fields.ts';
import { NomadDecodeError } from '../../../src/nomad/errors.ts';
import { encodeNomadJson, parseNomadJson } from '../../../src/nomad/json.ts';
import type { TaskEvent } from '../../../src/nomad/types.ts';

function fixtureText(name: string): string {
  return readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
}

function fixture(name: string): unknown {
  return parseNomadJson(fixtureText(name));
}

/** The fixture with one textual replacement, parsed as Nomad JSON. */
function replaced(name: string, from: string, to: string): unknown {
  const text = fixtureText(name);
  expect(text).toContain(from);
  return parseNomadJson(text.replace(from, to));
}

function decodeErrorOf(run: () => unknown): NomadDecodeError {
  try {
    run();
  } catch (error) {
    if (error instanceof NomadDecodeError) return error;
    throw error;
  }
  throw new Error('expected a NomadDecodeError');
}

const ZERO_EVENT: Omit<TaskEvent, 'Type' | 'Time' | 'Message' | 'DisplayMessage' | 'Details'> = {
  FailsTask: false,
  RestartReason: '',
  SetupError: '',
  DriverError: '',
  ExitCode: 0,
  Signal: 0,
  KillTimeout: 0n,
  KillError: '',
  KillReason: '',
  StartDelay: 0n,
  DownloadError: '',
  ValidationError: '',
  DiskLimit: 0,
  FailedSibling: '',
  VaultError: '',
  TaskSignalReason: '',
  TaskSignal: '',
  DriverMessage: '',
  GenericSource: '',
};

describe('decodeAllocListStubs', () => {
  it('should decode the list sample with every field typed', () => {
    const stubs = decodeAllocListStubs(fixture('nomad-allocations-list.json'));
    expect(stubs).toHaveLength(1);
    expect(stubs[0]).toStrictEqual({
      ID: '5457f16d-0f87-8e6b-5e91-0c7da3a41eb7',
      EvalID: 'cb20d15d-861f-8d8d-8253-e93932beea2e',
      Name: 'example.cache[0]',
      Namespace: 'default',
      NodeID: 'f476d2b4-02dc-c216-d031-273396727347',
      NodeName: 'linux',
      JobID: 'example',
      JobType: 'service',
      JobVersion: 0,
      TaskGroup: 'cache',
      AllocatedResources: null,
      DesiredStatus: 'run',
      DesiredDescription: '',
      DesiredTransition: {
        Migrate: null,
        Reschedule: null,
        ForceReschedule: null,
        NoShutdownDelay: null,
        MigrateDisablePlacement: null,
      },
      ClientStatus: 'running',
      ClientDescription: 'Tasks are running',
      TaskStates: {
        redis: {
          State: 'running',
          Failed: false,
          Restarts: 0,
          LastRestart: null,
          StartedAt: '2021-11-04T09:14:12.04996Z',
          FinishedAt: null,
          Paused: '',
          TaskHandle: null,
          Events: [
            {
              ...ZERO_EVENT,
              Type: 'Received',
              Time: 1636017249803624000n,
              Message: '',
              DisplayMessage: 'Task received by client',
              Details: {},
            },
            {
              ...ZERO_EVENT,
              Type: 'Task Setup',
              Time: 1636017249805254000n,
              Message: 'Building Task Directory',
              DisplayMessage: 'Building Task Directory',
              Details: { message: 'Building Task Directory' },
            },
            {
              ...ZERO_EVENT,
              Type: 'Started',
              Time: 1636017252049956000n,
              Message: '',
              DisplayMessage: 'Task started by client',
              Details: {},
            },
          ],
        },
      },
      DeploymentStatus: {
        Healthy: true,
        Timestamp: '2021-11-04T10:14:22.054814+01:00',
        Canary: false,
        ModifyIndex: 15n,
      },
      FollowupEvalID: '',
      NextAllocation: '',
      RescheduleTracker: null,
      PreemptedAllocations: null,
      PreemptedByAllocation: '',
      CreateIndex: 10n,
      ModifyIndex: 15n,
      CreateTime: 1636017249798459000n,
      ModifyTime: 1636017262190928000n,
    });
  });

  it('should keep nanosecond timestamps exact as bigint', () => {
    const [stub] = decodeAllocListStubs(fixture('nomad-allocations-list.json'));
    expect(typeof stub?.CreateTime).toBe('bigint');
    expect(stub?.CreateTime).toBe(1636017249798459000n);
    // JSON.parse would have rounded this one to 1636017249803623936.
    expect(stub?.TaskStates?.['redis']?.Events?.[0]?.Time).toBe(1636017249803624000n);
  });

  it('should report a wrong type deep inside a page with its JSON path', () => {
    const stub = fixtureText('nomad-allocations-list.json').trim().slice(1, -1);
    const broken = stub.replace('"Time": 1636017249803624000', '"Time": 1.5');
    const error = decodeErrorOf(() => decodeAllocListStubs(parseNomadJson(`[${stub},${stub},${stub},${broken}]`)));
    expect(error.jsonPath).toBe('$[3].TaskStates.redis.Events[0].Time');
    expect(error.expected).toMatch(/int64/);
    expect(error.received).toBe('number 1.5');
    expect(error.message).toContain('$[3].TaskStates.redis.Events[0].Time');
  });

  it('should refuse an unknown ClientStatus instead of passing it through', () => {
    const doc = replaced('nomad-allocations-list.json', '"ClientStatus": "running"', '"ClientStatus": "finished"');
    const error = decodeErrorOf(() => decodeAllocListStubs(doc));
    expect(error.jsonPath).toBe('$[0].ClientStatus');
    expect(error.received).toBe('string "finished"');
  });

  it('should refuse a task state outside pending, running and dead', () => {
    const doc = replaced('nomad-allocations-list.json', '"State": "running"', '"State": "failed"');
    expect(decodeErrorOf(() => decodeAllocListStubs(doc)).jsonPath).toBe('$[0].TaskStates.redis.State');
  });

  it('should refuse a number field that is not a safe integer rather than round it', () => {
    const doc = parseNomadJson('{"JobVersion":12345678901234567890,"ClientStatus":"running","DesiredStatus":"run"}');
    const error = decodeErrorOf(() => decodeAllocListStub(doc));
    expect(error.jsonPath).toBe('$.JobVersion');
    expect(error.received).toBe('string "12345678901234567890"');
    const fractional = decodeErrorOf(() =>
      decodeAllocListStub({ JobVersion: 1.5, ClientStatus: 'running', DesiredStatus: 'run' }),
    );
    expect(fractional.jsonPath).toBe('$.JobVersion');
  });

  it('should refuse a 64-bit field that JSON.parse already rounded', () => {
    const rounded = JSON.parse(fixtureText('nomad-allocations-list.json'));
    const error = decodeErrorOf(() => decodeAllocListStubs(rounded));
    // The first 64-bit field decoded (in struct order) is the first event's Time.
    expect(error.jsonPath).toBe('$[0].TaskStates.redis.Events[0].Time');
    expect(error.received).toBe('number 1636017249803624000');
  });

  it('should name a non-string map value by its key', () => {
    const doc = replaced('nomad-allocations-list.json', '"message": "Building Task Directory"', '"message": 42');
    expect(decodeErrorOf(() => decodeAllocListStubs(doc)).jsonPath).toBe(
      '$[0].TaskStates.redis.Events[1].Details.message',
    );
  });

  it('should say which element of the page is not an object', () => {
    const error = decodeErrorOf(() => decodeAllocListStubs([null]));
    expect(error.jsonPath).toBe('$[0]');
    expect(error.expected).toBe('an object');
    expect(decodeErrorOf(() => decodeAllocListStubs({})).jsonPath).toBe('$');
  });

  it('should treat a null where a string belongs as a wrong type', () => {
    const doc = replaced('nomad-allocations-list.json', '"NodeName": "linux"', '"NodeName": null');
    expect(decodeErrorOf(() => decodeAllocListStubs(doc)).jsonPath).toBe('$[0].NodeName');
  });

  it('should fill Go zero values for keys an older or newer Nomad leaves out', () => {
    const stub = decodeAllocListStub({ ID: 'x', ClientStatus: 'lost', DesiredStatus: 'stop' });
    expect(stub.JobVersion).toBe(0);
    expect(stub.TaskStates).toBeNull();
    expect(stub.DesiredTransition).toStrictEqual({
      Migrate: null,
      Reschedule: null,
      ForceReschedule: null,
      NoShutdownDelay: null,
      MigrateDisablePlacement: null,
    });
    expect(stub.CreateIndex).toBe(0n);
  });

  it('should require the enums, which have no usable zero value', () => {
    expect(decodeErrorOf(() => decodeAllocListStub({ ID: 'x', DesiredStatus: 'run' })).jsonPath).toBe(
      '$.ClientStatus',
    );
  });

  it('should decode a 100-allocation page with 2,000 task events, every timestamp exact', () => {
    const event = (i: number) => ({
      ...ZERO_EVENT,
      Type: 'Started',
      Time: 1636017252049956000n + BigInt(i),
      Message: '',
      DisplayMessage: 'Task started by client',
      Details: { message: 'Building Task Directory' },
    });
    const state = {
      State: 'running',
      Failed: false,
      Restarts: 0,
      LastRestart: null,
      StartedAt: '2021-11-04T09:14:12.04996Z',
      FinishedAt: null,
      Events: Array.from({ length: 10 }, (_, i) => event(i)),
      Paused: '',
      TaskHandle: null,
    };
    const [sample] = decodeAllocListStubs(fixture('nomad-allocations-list.json'));
    const page = Array.from({ length: 100 }, (_, i) => ({
      ...sample,
      ID: `alloc-${i}`,
      CreateIndex: BigInt(i + 1),
      TaskStates: { web: state, sidecar: state },
    }));
    // Speed is measured by the benchmarks, not here (tests never assert wall-clock times).
    const decoded = decodeAllocListStubs(parseNomadJson(encodeNomadJson(page)));
    expect(decoded).toHaveLength(100);
    expect(decoded[99]?.CreateIndex).toBe(100n);
    expect(decoded[42]?.TaskStates?.['sidecar']?.Events?.map((e) => e.Time)).toEqual(
      Array.from({ length: 10 }, (_, i) => 1636017252049956000n + BigInt(i)),
    );
  });
});

describe('decodeAllocation', () => {
  const alloc = decodeAllocation(fixture('nomad-allocation-read.json'));

  it('should decode the read sample, keeping the last of its duplicated PreviousAllocation keys', () => {
    expect(alloc.ID).toBe('a8198d79-cfdb-6593-a999-1e9adabcba2e');
    expect(alloc.PreviousAllocation).toBe('');
    expect(alloc.NextAllocation).toBe('cd13d9b9-4f97-7184-c88b-7b451981616b');
    expect(alloc.DesiredStatus).toBe('run');
    expect(alloc.ClientStatus).toBe('running');
    expect(alloc.CreateIndex).toBe(54n);
    expect(alloc.ModifyIndex).toBe(57n);
    expect(alloc.AllocModifyIndex).toBe(54n);
    expect(alloc.CreateTime).toBe(1495747371794276400n);
    expect(alloc.ModifyTime).toBe(1495747371794276400n);
    expect(alloc.Namespace).toBe('');
    expect(alloc.AllocatedResources).toBeNull();
  });

  it('should accept a digit-string Delay and exact nanosecond reschedule times', () => {
    expect(alloc.RescheduleTracker).toStrictEqual({
      Events: [
        {
          RescheduleTime: 1517434161192946200n,
          PrevAllocID: '516d2753-0513-cfc7-57ac-2d6fac18b9dc',
          PrevNodeID: '9230cd3b-3bda-9a3f-82f9-b2ea8dedb20e',
          Delay: 5000000000n,
        },
      ],
      LastReschedule: '',
    });
  });

  it('should turn the old zero-time string into null and keep real times as sent', () => {
    const redis = alloc.TaskStates?.['redis'];
    expect(redis?.FinishedAt).toBeNull();
    expect(redis?.LastRestart).toBeNull();
    expect(redis?.StartedAt).toBe('2017-07-25T23:36:26.106431265Z');
    expect(redis?.Events?.map((e) => [e.Type, e.Time, e.DriverMessage, e.GenericSource])).toStrictEqual([
      ['Received', 1495747371795703800n, '', ''],
      ['Driver', 1495747371798867200n, 'Downloading image redis:7', ''],
      ['Started', 1495747379525667800n, '', ''],
    ]);
    expect(redis?.Events?.[0]?.Details).toBeNull();
  });

  it('should decode the embedded job with durations as bigint', () => {
    const job = alloc.Job;
    expect(job?.Region).toBe('global');
    expect(job?.Priority).toBe(50);
    expect(job?.Datacenters).toStrictEqual(['dc1']);
    expect(job?.Status).toBe('pending');
    expect(job?.CreateIndex).toBe(52n);
    expect(job?.JobModifyIndex).toBe(52n);
    expect(job?.SubmitTime).toBe(0n);
    expect(job?.NodePool).toBe('');
    const group = job?.TaskGroups?.[0];
    expect(group?.Count).toBe(1);
    expect(group?.RestartPolicy).toStrictEqual({
      Attempts: 10,
      Interval: 300000000000n,
      Delay: 25000000000n,
      Mode: 'delay',
    });
    expect(group?.ShutdownDelay).toBeNull();
    const task = group?.Tasks?.[0];
    expect(task?.KillTimeout).toBe(5000000000n);
    expect(task?.ShutdownDelay).toBe(0n);
    expect(task?.Resources).toStrictEqual({ CPU: 500, Cores: 0, MemoryMB: 10, MemoryMaxMB: 0 });
    expect(task?.Services?.[0]?.Checks?.[0]).toStrictEqual({
      Name: 'alive',
      Type: 'tcp',
      Path: '',
      Interval: 10000000000n,
      Timeout: 2000000000n,
    });
    expect(task?.Services?.[0]?.Tags).toStrictEqual(['global', 'cache']);
  });

  it('should pass the opaque driver config through as parsed', () => {
    const raw = fixture('nomad-allocation-read.json');
    const decoded = decodeAllocation(raw);
    expect(decoded.Job?.TaskGroups?.[0]?.Tasks?.[0]?.Config).toStrictEqual({
      port_map: [{ db: 6379 }],
      image: 'redis:7',
    });
    const sameRaw = decodeAllocation(raw);
    expect(sameRaw.Job?.TaskGroups?.[0]?.Tasks?.[0]?.Config).toBe(decoded.Job?.TaskGroups?.[0]?.Tasks?.[0]?.Config);
  });

  it('should decode metrics with float scores', () => {
    expect(alloc.Metrics).toStrictEqual({
      NodesEvaluated: 1,
      NodesFiltered: 0,
      NodesInPool: 0,
      NodesAvailable: { dc1: 1 },
      ClassFiltered: null,
      ConstraintFiltered: null,
      NodesExhausted: 0,
      ClassExhausted: null,
      DimensionExhausted: null,
      QuotaExhausted: null,
      Scores: { 'fb2170a8-257d-3c64-b14d-bc06cc94e34c.binpack': 0.6205732522109244 },
      AllocationTime: 31729n,
      CoalescedFailures: 0,
    });
  });

  it('should quote a non-identifier map key in the error path', () => {
    const key = 'fb2170a8-257d-3c64-b14d-bc06cc94e34c.binpack';
    const doc = replaced('nomad-allocation-read.json', `"${key}": 0.6205732522109244`, `"${key}": "high"`);
    expect(decodeErrorOf(() => decodeAllocation(doc)).jsonPath).toBe(`$.Metrics.Scores["${key}"]`);
  });

  it('should give Go zero values to every field a full allocation omits', () => {
    const sparse = decodeAllocation(fixture('nomad-allocation-sparse.json'));
    expect(sparse).toStrictEqual({
      ID: 'aaaaaaaa-3350-4b4b-d185-0e1992ed43e9',
      Namespace: 'default',
      EvalID: '0b7a5c0e-2d1f-4a3b-9c8d-7e6f5a4b3c2d',
      Name: 'web.web[0]',
      NodeID: 'f476d2b4-02dc-c216-d031-273396727347',
      NodeName: 'linux',
      JobID: 'web',
      Job: null,
      TaskGroup: 'web',
      AllocatedResources: null,
      Metrics: null,
      DesiredStatus: 'run',
      DesiredDescription: '',
      DesiredTransition: {
        Migrate: null,
        Reschedule: null,
        ForceReschedule: null,
        NoShutdownDelay: null,
        MigrateDisablePlacement: null,
      },
      ClientStatus: 'pending',
      ClientDescription: '',
      TaskStates: null,
      AllocStates: null,
      PreviousAllocation: '',
      NextAllocation: '',
      DeploymentID: '',
      DeploymentStatus: null,
      RescheduleTracker: null,
      NetworkStatus: null,
      FollowupEvalID: '',
      PreemptedAllocations: null,
      PreemptedByAllocation: '',
      SigningKeyID: '',
      CreateIndex: 1003n,
      ModifyIndex: 1003n,
      AllocModifyIndex: 0n,
      CreateTime: 1700000000123456789n,
      ModifyTime: 1700000000123456789n,
    });
  });

  it('should decode allocated resources, network status and alloc states when present', () => {
    const full = decodeAllocation({
      ClientStatus: 'running',
      DesiredStatus: 'run',
      AllocatedResources: {
        Tasks: { web: { Cpu: { CpuShares: 100 }, Memory: { MemoryMB: 64, MemoryMaxMB: 128 }, Networks: null } },
        TaskLifecycles: { web: null, sidecar: { Hook: 'prestart', Sidecar: true } },
        Shared: { DiskMB: 300, Ports: [{ Label: 'http', Value: 23116, To: 8080, HostIP: '127.0.0.1' }] },
      },
      NetworkStatus: { InterfaceName: 'eth0', Address: '172.26.64.2', DNS: { Servers: ['1.1.1.1'] } },
      // Nomad encodes AllocStateField (a uint8) as a number: 0 is the client status.
      AllocStates: [{ Field: 0, Value: 'unknown', Time: '2024-01-01T00:00:00Z' }],
      DesiredTransition: { Migrate: true, NoShutdownDelay: false },
    });
    expect(full.AllocatedResources).toStrictEqual({
      Tasks: {
        web: { Cpu: { CpuShares: 100, ReservedCores: null }, Memory: { MemoryMB: 64, MemoryMaxMB: 128 }, Networks: null },
      },
      TaskLifecycles: { web: null, sidecar: { Hook: 'prestart', Sidecar: true } },
      Shared: { DiskMB: 300, Networks: null, Ports: [{ Label: 'http', Value: 23116, To: 8080, HostIP: '127.0.0.1' }] },
    });
    expect(full.NetworkStatus).toStrictEqual({
      InterfaceName: 'eth0',
      Address: '172.26.64.2',
      AddressIPv6: '',
      DNS: { Servers: ['1.1.1.1'], Searches: null, Options: null },
    });
    expect(full.AllocStates).toStrictEqual([{ Field: 0, Value: 'unknown', Time: '2024-01-01T00:00:00Z' }]);
    expect(full.DesiredTransition.Migrate).toBe(true);
    expect(full.DesiredTransition.NoShutdownDelay).toBe(false);
    expect(full.DesiredTransition.Reschedule).toBeNull();
  });

  it('should round-trip a uint64 above 2^53 exactly', () => {
    const text = '{"ClientStatus":"running","DesiredStatus":"run","ModifyIndex":18446744073709551615}';
    const decoded = decodeAllocation(parseNomadJson(text));
    expect(decoded.ModifyIndex).toBe(18446744073709551615n);
    expect(encodeNomadJson({ ModifyIndex: decoded.ModifyIndex })).toBe('{"ModifyIndex":18446744073709551615}');
    expect(decodeAllocation({ ClientStatus: 'running', DesiredStatus: 'run', ModifyIndex: '9007199254740993' }).ModifyIndex).toBe(
      9007199254740993n,
    );
  });

  it('should refuse a uint64 that is negative or beyond 2^64-1', () => {
    const base = { ClientStatus: 'running', DesiredStatus: 'run' };
    expect(decodeErrorOf(() => decodeAllocation({ ...base, CreateIndex: -1 })).jsonPath).toBe('$.CreateIndex');
    expect(decodeErrorOf(() => decodeAllocation({ ...base, CreateIndex: '18446744073709551616' })).jsonPath).toBe(
      '$.CreateIndex',
    );
    expect(decodeAllocation({ ...base, CreateTime: '-1000' }).CreateTime).toBe(-1000n);
  });

  it('should prefix error paths with the location given by the caller', () => {
    const path = at(at(at(undefined, 'Events'), 2), 'Payload');
    const value = { ClientStatus: 'running', DesiredStatus: 'run', TaskStates: [] };
    const error = decodeErrorOf(() => decodeAllocation(value, at(path, 'Allocation')));
    expect(error.jsonPath).toBe('$.Events[2].Payload.Allocation.TaskStates');
    expect(error.expected).toBe('an object or null');
  });
});

describe('other decoders', () => {
  it('should decode the stop sample', () => {
    expect(decodeStopResponse(fixture('nomad-allocation-stop.json'))).toStrictEqual({
      EvalID: '5456bd7a-9fc0-c0dd-6131-cbee77f57577',
      Index: 54n,
    });
  });

  it('should decode signal and restart answers in both the documented and the real shape', () => {
    expect(decodeGenericResponse(parseNomadJson('{}'))).toStrictEqual({ Index: 0n });
    expect(decodeGenericResponse(parseNomadJson('{"Index":0}'))).toStrictEqual({ Index: 0n });
    expect(decodeErrorOf(() => decodeGenericResponse([])).jsonPath).toBe('$');
  });

  it('should decode the services sample', () => {
    expect(decodeServiceRegistrations(fixture('nomad-allocation-services.json'))).toStrictEqual([
      {
        ID: '_nomad-task-177160af-26f6-619f-9c9f-5e46d1104395-redis-example-cache-redis-db',
        ServiceName: 'example-cache-redis',
        Namespace: 'default',
        NodeID: '7406e90b-de16-d118-80fe-60d0f2730cb3',
        Datacenter: 'dc1',
        JobID: 'example',
        AllocID: '177160af-26f6-619f-9c9f-5e46d1104395',
        Tags: ['db', 'cache'],
        Address: '127.0.0.1',
        Port: 29702,
        CreateIndex: 14n,
        ModifyIndex: 24n,
      },
    ]);
    expect(decodeServiceRegistrations(parseNomadJson('[]'))).toStrictEqual([]);
  });

  it('should decode a node and check its status', () => {
    const node = decodeNode({
      ID: 'f476d2b4-02dc-c216-d031-273396727347',
      Name: 'linux',
      Datacenter: 'dc1',
      HTTPAddr: '127.0.0.1:4646',
      Status: 'ready',
      SchedulingEligibility: 'eligible',
      Attributes: { 'kernel.name': 'linux' },
      NodeResources: { Cpu: { CpuShares: 4000, TotalCpuCores: 4 }, Memory: { MemoryMB: 8192 } },
      StatusUpdatedAt: 1700000000,
      CreateIndex: 7,
      ModifyIndex: '9',
    });
    expect(node.Status).toBe('ready');
    expect(node.Attributes).toStrictEqual({ 'kernel.name': 'linux' });
    expect(node.NodeResources).toStrictEqual({
      Cpu: { CpuShares: 4000, TotalCpuCores: 4 },
      Memory: { MemoryMB: 8192 },
      Disk: { DiskMB: 0 },
    });
    expect(node.DrainStrategy).toBeNull();
    expect(decodeNode({ Status: 'ready', DrainStrategy: { Deadline: 3600000000000, IgnoreSystemJobs: false } }).DrainStrategy).toStrictEqual({
      Deadline: 3600000000000,
      IgnoreSystemJobs: false,
    });
    expect(node.ModifyIndex).toBe(9n);
    expect(decodeErrorOf(() => decodeNode({ Status: 'gone' })).jsonPath).toBe('$.Status');
    expect(decodeErrorOf(() => decodeNode({ Status: 'down', NodeResources: { Cpu: null } })).jsonPath).toBe(
      '$.NodeResources.Cpu',
    );
  });

  it('should decode an evaluation that omits its zero fields', () => {
    const text =
      '{"CreateIndex":60,"CreateTime":1700000000123456789,"ID":"e1","JobID":"example","JobModifyIndex":52,' +
      '"ModifyIndex":60,"ModifyTime":1700000000123456789,"Namespace":"default","Priority":50,' +
      '"Status":"pending","TriggeredBy":"alloc-stop","Type":"service"}';
    expect(decodeEvaluation(parseNomadJson(text))).toStrictEqual({
      ID: 'e1',
      Namespace: 'default',
      Priority: 50,
      Type: 'service',
      TriggeredBy: 'alloc-stop',
      JobID: 'example',
      JobModifyIndex: 52n,
      NodeID: '',
      DeploymentID: '',
      Status: 'pending',
      StatusDescription: '',
      PreviousEval: '',
      NextEval: '',
      CreateIndex: 60n,
      ModifyIndex: 60n,
      CreateTime: 1700000000123456789n,
      ModifyTime: 1700000000123456789n,
    });
  });

  it('should decode a job read on its own', () => {
    const job = decodeJob(parseNomadJson('{"ID":"web","Type":"batch","Version":3,"Stop":true,"SubmitTime":1700000000123456789}'));
    expect(job.ID).toBe('web');
    expect(job.Version).toBe(3);
    expect(job.Stop).toBe(true);
    expect(job.SubmitTime).toBe(1700000000123456789n);
    expect(job.TaskGroups).toBeNull();
  });
});
