/**
 * A typed client for the allocation-related part of Nomad's HTTP API. Endpoints and their
 * parameters live here; HTTP itself (token header, gzip, deadlines, error mapping) is `http.ts`.
 *
 * Every method accepts per-call options. The per-call `token` replaces the client's default, so a
 * gateway can forward each caller's own token through one shared client and connection pool.
 */
import {
  decodeAllocation,
  decodeAllocations,
  decodeAllocListStubs,
  decodeEvaluation,
  decodeGenericResponse,
  decodeJob,
  decodeNode,
  decodeServiceRegistrations,
  decodeStopResponse,
} from './decode.ts';
import { NomadDecodeError } from './errors.ts';
import { createNomadTransport } from './http.ts';
import type { BlockingOptions, NomadExchange, NomadHttpRequest, NomadTlsOptions } from './http.ts';
import type { Dispatcher } from 'undici';
import type {
  AllocListStub,
  AllocStopResponse,
  Allocation,
  Evaluation,
  GenericResponse,
  Job,
  NomadNode,
  QueryMeta,
  ServiceRegistration,
} from './types.ts';

/**
 * Nomad's allocation API. Every method rejects with `NomadHttpError` (any status other than
 * 200; a missing allocation is status 404), `NomadUnavailableError`, `NomadTimeoutError`,
 * `NomadDecodeError`, or the caller signal's reason.
 */
export interface NomadClient {
  /** `GET /v1/allocations`: one page of allocation stubs. */
  listAllocations(options?: ListAllocationsOptions): Promise<NomadList<AllocListStub>>;
  /** `GET /v1/allocation/:id`: a full allocation; the id must be the full UUID. */
  readAllocation(id: string, options?: NomadReadOptions): Promise<NomadItem<Allocation>>;
  /** `POST /v1/allocation/:id/stop`: marks the allocation for migration and creates an eval. */
  stopAllocation(id: string, options?: StopAllocationOptions): Promise<AllocStopResponse>;
  /** `POST /v1/client/allocation/:id/signal`: sends a signal to one task or all tasks. */
  signalAllocation(id: string, options: SignalAllocationOptions): Promise<GenericResponse>;
  /** `POST /v1/client/allocation/:id/restart`: restarts tasks in place. */
  restartAllocation(id: string, options?: RestartAllocationOptions): Promise<GenericResponse>;
  /**
   * `GET /v1/allocation/:id/services`: Nomad-native service registrations. The request namespace
   * must be the allocation's (Nomad answers 404 otherwise).
   */
  allocationServices(id: string, options?: NomadReadOptions): Promise<NomadList<ServiceRegistration>>;
  /** `GET /v1/status/leader`: the leader's RPC address; needs no ACL, so it answers "is Nomad up". */
  statusLeader(options?: NomadCallOptions): Promise<string>;
  /** `GET /v1/job/:id/services`: the service registrations of every allocation of a job. */
  jobServices(jobId: string, options?: NomadReadOptions): Promise<NomadList<ServiceRegistration>>;
  /**
   * `GET /v1/job/:id/allocations` in the call's namespace: list stubs (with task states, never
   * resources) in allocation-id order; `[]` for an unknown job. The index is the allocs table's.
   */
  jobAllocations(jobId: string, options?: JobAllocationsOptions): Promise<NomadList<AllocListStub>>;
  /**
   * `GET /v1/node/:id/allocations`: full allocations on the node, without those in namespaces the
   * token cannot read (Nomad needs node read); `[]` for an unknown node. Nomad treats the id as a
   * prefix. The index is the highest ModifyIndex among the node's allocations.
   */
  nodeAllocations(nodeId: string, options?: NomadReadOptions): Promise<NomadList<Allocation>>;
  /** `GET /v1/job/:id` in the call's namespace. */
  readJob(id: string, options?: NomadReadOptions): Promise<NomadItem<Job>>;
  /** `GET /v1/node/:id`. */
  readNode(id: string, options?: NomadReadOptions): Promise<NomadItem<NomadNode>>;
  /** `GET /v1/evaluation/:id`. */
  readEvaluation(id: string, options?: NomadReadOptions): Promise<NomadItem<Evaluation>>;
  /**
   * Closes the client's connection pool once in-flight calls finish (abort blocking queries
   * first, or this waits for them). Later calls fail. Idempotent.
   */
  close(): Promise<void>;
}

/** Options every call accepts. */
export interface NomadCallOptions {
  /** ACL token for this call (`X-Nomad-Token`); overrides the client's default token. */
  token?: string;
  /** Namespace for this call; overrides the client's default. `*` means all (list only). */
  namespace?: string;
  /** Region for this call; overrides the client's default. */
  region?: string;
  /** Cancels the call; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Deadline for this call in ms; rejects with `NomadTimeoutError`. Blocking reads
   * (`index > 0`) get wait × 17/16 on top. @default the client's `timeoutMs`
   */
  timeoutMs?: number;
}

/** Options of a read: call options plus Nomad's blocking-query options. */
export interface NomadReadOptions extends NomadCallOptions, BlockingOptions {}

/** `GET /v1/allocations` parameters. */
export interface ListAllocationsOptions extends NomadReadOptions {
  /** ID prefix, an even number of hex characters (`?prefix=`); Nomad answers 500 otherwise. */
  prefix?: string;
  /** Resume token from a previous page's `meta.NextToken` (`?next_token=`). */
  nextToken?: string;
  /** Page size (`?per_page=`); absent or 0 means no paging. */
  perPage?: number;
  /** go-bexpr filter evaluated on the full allocation (`?filter=`). */
  filter?: string;
  /** Include `AllocatedResources` (`?resources=`); sent only when specified. */
  resources?: boolean;
  /** Include `TaskStates` (`?task_states=`); Nomad's default is true; sent only when specified. */
  taskStates?: boolean;
  /** Newest first (`?reverse=true`); sent only when true. @default false */
  reverse?: boolean;
}

/** `GET /v1/job/:id/allocations` parameters. */
export interface JobAllocationsOptions extends NomadReadOptions {
  /**
   * Include allocations of earlier jobs registered under the same id (`?all=`); sent only when
   * specified. @default false
   */
  all?: boolean;
}

/** `POST /v1/allocation/:id/stop` parameters (sent in the query string). */
export interface StopAllocationOptions extends NomadCallOptions {
  /** Skip the group and task `shutdown_delay` (`?no_shutdown_delay=true`). */
  noShutdownDelay?: boolean;
  /** Allow a batch allocation to be rescheduled (`?reschedule=true`). */
  reschedule?: boolean;
}

/** `POST /v1/client/allocation/:id/signal` parameters. */
export interface SignalAllocationOptions extends NomadCallOptions {
  /**
   * Signal name, e.g. `SIGUSR1` (the body's `Signal`). Not called `signal`: that name is the
   * per-call `AbortSignal` of every method.
   */
  signalName: string;
  /** Task to signal; absent means every task of the allocation. */
  task?: string;
}

/** `POST /v1/client/allocation/:id/restart` parameters. */
export interface RestartAllocationOptions extends NomadCallOptions {
  /** Restart only this task. Nomad rejects it together with `allTasks`. */
  taskName?: string;
  /** Restart every task, dead ones included. @default false (running tasks only) */
  allTasks?: boolean;
}

/** A list result and the `X-Nomad-*` metadata (index for blocking, next page token). */
export interface NomadList<T> {
  items: T[];
  meta: QueryMeta;
}

/** A single-item result and the `X-Nomad-*` metadata. */
export interface NomadItem<T> {
  item: T;
  meta: QueryMeta;
}

/** How to build a client. */
export interface NomadClientOptions {
  /** Base URL of a Nomad agent, e.g. `http://127.0.0.1:4646` (`NOMAD_ADDR`). */
  address: string;
  /** Default ACL token; per-call `token` overrides it. Absent means anonymous. */
  token?: string;
  /** Default region; absent lets the agent use its own. */
  region?: string;
  /** Default namespace; absent lets Nomad use `default`. */
  namespace?: string;
  /** Default per-call deadline in ms. @default 10000 */
  timeoutMs?: number;
  /** TLS settings for an `https://` address. */
  tls?: NomadTlsOptions;
  /** An undici dispatcher to use instead of the client's own keep-alive pool. */
  dispatcher?: Dispatcher;
  /** Ask Nomad for gzip bodies, as its Go client does. @default true */
  gzip?: boolean;
  /** Told about every HTTP exchange with Nomad, with its route template (metrics); see `http.ts`. */
  onExchange?: (exchange: NomadExchange) => void;
}

function segment(id: string): string {
  return encodeURIComponent(id);
}

/** An endpoint: its path template (what metrics see) and its path with the id filled in. */
interface Endpoint {
  route: string;
  path: string;
}

/** The endpoint `route` (with at most one `:id`), for `id` (URL-encoded into the path). */
function endpoint(route: string, id?: string): Endpoint {
  return { route, path: id === undefined ? route : route.replace(':id', () => segment(id)) };
}

function flag(value: boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

function perPageParam(perPage: number | undefined): string | undefined {
  if (perPage === undefined || perPage === 0) return undefined;
  if (!Number.isSafeInteger(perPage)) throw new RangeError('perPage must be an integer');
  return String(perPage);
}

/** Creates a client with its own connection pool. Call `close()` when done. */
function decodeLeader(value: unknown): string {
  if (typeof value !== 'string') throw new NomadDecodeError({ jsonPath: '$', expected: 'string', received: typeof value });
  return value;
}

export function createNomadClient(options: NomadClientOptions): NomadClient {
  const transport = createNomadTransport({
    address: options.address,
    timeoutMs: options.timeoutMs,
    tls: options.tls,
    dispatcher: options.dispatcher,
    gzip: options.gzip,
    onExchange: options.onExchange,
  });

  /** The transport fields shared by every call: defaults merged with per-call options. */
  function common(call: NomadCallOptions) {
    return {
      token: call.token ?? options.token,
      namespace: call.namespace ?? options.namespace,
      region: call.region ?? options.region,
      signal: call.signal,
      timeoutMs: call.timeoutMs,
    };
  }

  function read<T>(
    at: Endpoint,
    opts: NomadReadOptions,
    decode: (value: unknown) => T,
    params?: NomadHttpRequest<T>['params'],
  ): Promise<{ body: T; meta: QueryMeta }> {
    return transport.send({
      ...common(opts),
      method: 'GET',
      ...at,
      params,
      index: opts.index,
      waitMs: opts.waitMs,
      stale: opts.stale,
      decode,
    });
  }

  async function readItem<T>(at: Endpoint, opts: NomadReadOptions, decode: (value: unknown) => T) {
    const { body, meta } = await read(at, opts, decode);
    return { item: body, meta };
  }

  return {
    async listAllocations(opts = {}) {
      const { body, meta } = await read(endpoint('/v1/allocations'), opts, decodeAllocListStubs, {
        prefix: opts.prefix === '' ? undefined : opts.prefix,
        next_token: opts.nextToken === '' ? undefined : opts.nextToken,
        per_page: perPageParam(opts.perPage),
        filter: opts.filter === '' ? undefined : opts.filter,
        resources: flag(opts.resources),
        task_states: flag(opts.taskStates),
        reverse: opts.reverse === true ? 'true' : undefined,
      });
      return { items: body, meta };
    },

    readAllocation(id, opts = {}) {
      return readItem(endpoint('/v1/allocation/:id', id), opts, decodeAllocation);
    },

    async stopAllocation(id, opts = {}) {
      const { body } = await transport.send({
        ...common(opts),
        method: 'POST',
        ...endpoint('/v1/allocation/:id/stop', id),
        params: { no_shutdown_delay: flag(opts.noShutdownDelay), reschedule: flag(opts.reschedule) },
        decode: decodeStopResponse,
      });
      return body;
    },

    async signalAllocation(id, opts) {
      const { body } = await transport.send({
        ...common(opts),
        method: 'POST',
        ...endpoint('/v1/client/allocation/:id/signal', id),
        body: { Signal: opts.signalName, Task: opts.task ?? '' },
        decode: decodeGenericResponse,
      });
      return body;
    },

    async restartAllocation(id, opts = {}) {
      const { body } = await transport.send({
        ...common(opts),
        method: 'POST',
        ...endpoint('/v1/client/allocation/:id/restart', id),
        body: { TaskName: opts.taskName ?? '', AllTasks: opts.allTasks ?? false },
        decode: decodeGenericResponse,
      });
      return body;
    },

    async allocationServices(id, opts = {}) {
      const { body, meta } = await read(endpoint('/v1/allocation/:id/services', id), opts, decodeServiceRegistrations);
      return { items: body, meta };
    },

    async statusLeader(opts = {}) {
      const { body } = await read(endpoint('/v1/status/leader'), opts, decodeLeader);
      return body;
    },

    async jobServices(jobId, opts = {}) {
      const { body, meta } = await read(endpoint('/v1/job/:id/services', jobId), opts, decodeServiceRegistrations);
      return { items: body, meta };
    },

    async jobAllocations(jobId, opts = {}) {
      const { body, meta } = await read(endpoint('/v1/job/:id/allocations', jobId), opts, decodeAllocListStubs, { all: flag(opts.all) });
      return { items: body, meta };
    },

    async nodeAllocations(nodeId, opts = {}) {
      const { body, meta } = await read(endpoint('/v1/node/:id/allocations', nodeId), opts, decodeAllocations);
      return { items: body, meta };
    },

    readJob(id, opts = {}) {
      return readItem(endpoint('/v1/job/:id', id), opts, decodeJob);
    },

    readNode(id, opts = {}) {
      return readItem(endpoint('/v1/node/:id', id), opts, decodeNode);
    },

    readEvaluation(id, opts = {}) {
      return readItem(endpoint('/v1/evaluation/:id', id), opts, decodeEvaluation);
    },

    close() {
      return transport.close();
    },
  };
}
