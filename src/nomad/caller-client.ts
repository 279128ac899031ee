import type { NomadCallOptions, NomadClient } from './client.ts';

/** Who a call is made for: their Nomad token, and the signal that fires when they go away. */
export interface Caller {
  /** Sent as `X-Nomad-Token`; undefined makes the call anonymous (or with the client's default). */
  token: string | undefined;
  /** Aborts the caller's in-flight calls, e.g. when the HTTP request or the socket closes. */
  signal: AbortSignal | undefined;
}

/** The Nomad client as one caller sees it: the calls a request may make, each on the caller's behalf. */
export type CallerNomadClient = Omit<NomadClient, 'close' | 'statusLeader'>;

/**
 * A signal that aborts when either does. Not `AbortSignal.any`: yoga's request signal is an
 * EventTarget look-alike (the fetch ponyfill's), which `any` refuses; listening works with both.
 */
function either(a: AbortSignal, b: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const abortWith = (source: AbortSignal) => () => controller.abort(source.reason);
  if (a.aborted) controller.abort(a.reason);
  else if (b.aborted) controller.abort(b.reason);
  else {
    a.addEventListener('abort', abortWith(a), { once: true });
    b.addEventListener('abort', abortWith(b), { once: true });
  }
  return controller.signal;
}

/**
 * The client bound to one caller. A class, so the methods live once on its prototype: a context
 * is made for every request and every subscription, and thirteen closures each (with tsx's
 * `keepNames`, each also given its own `name` property) were measured at about 4 KB per
 * subscription held.
 */
class CallerBoundClient implements CallerNomadClient {
  readonly #nomad: NomadClient;
  readonly #caller: Caller;

  constructor(nomad: NomadClient, caller: Caller) {
    this.#nomad = nomad;
    this.#caller = caller;
  }

  /** The caller's token replaces any per-call one; their signal joins any per-call one. */
  #on<O extends NomadCallOptions>(options: O): O {
    const { token, signal: callerSignal } = this.#caller;
    const signal = options.signal === undefined ? callerSignal : callerSignal === undefined ? options.signal : either(options.signal, callerSignal);
    return { ...options, token, signal };
  }

  listAllocations(options: Parameters<NomadClient['listAllocations']>[0] = {}): ReturnType<NomadClient['listAllocations']> {
    return this.#nomad.listAllocations(this.#on(options));
  }
  readAllocation(id: string, options: Parameters<NomadClient['readAllocation']>[1] = {}): ReturnType<NomadClient['readAllocation']> {
    return this.#nomad.readAllocation(id, this.#on(options));
  }
  stopAllocation(id: string, options: Parameters<NomadClient['stopAllocation']>[1] = {}): ReturnType<NomadClient['stopAllocation']> {
    return this.#nomad.stopAllocation(id, this.#on(options));
  }
  signalAllocation(id: string, options: Parameters<NomadClient['signalAllocation']>[1]): ReturnType<NomadClient['signalAllocation']> {
    return this.#nomad.signalAllocation(id, this.#on(options));
  }
  restartAllocation(id: string, options: Parameters<NomadClient['restartAllocation']>[1] = {}): ReturnType<NomadClient['restartAllocation']> {
    return this.#nomad.restartAllocation(id, this.#on(options));
  }
  allocationServices(id: string, options: Parameters<NomadClient['allocationServices']>[1] = {}): ReturnType<NomadClient['allocationServices']> {
    return this.#nomad.allocationServices(id, this.#on(options));
  }
  jobServices(jobId: string, options: Parameters<NomadClient['jobServices']>[1] = {}): ReturnType<NomadClient['jobServices']> {
    return this.#nomad.jobServices(jobId, this.#on(options));
  }
  jobAllocations(jobId: string, options: Parameters<NomadClient['jobAllocations']>[1] = {}): ReturnType<NomadClient['jobAllocations']> {
    return this.#nomad.jobAllocations(jobId, this.#on(options));
  }
  nodeAllocations(nodeId: string, options: Parameters<NomadClient['nodeAllocations']>[1] = {}): ReturnType<NomadClient['nodeAllocations']> {
    return this.#nomad.nodeAllocations(nodeId, this.#on(options));
  }
  readJob(id: string, options: Parameters<NomadClient['readJob']>[1] = {}): ReturnType<NomadClient['readJob']> {
    return this.#nomad.readJob(id, this.#on(options));
  }
  readNode(id: string, options: Parameters<NomadClient['readNode']>[1] = {}): ReturnType<NomadClient['readNode']> {
    return this.#nomad.readNode(id, this.#on(options));
  }
  readEvaluation(id: string, options: Parameters<NomadClient['readEvaluation']>[1] = {}): ReturnType<NomadClient['readEvaluation']> {
    return this.#nomad.readEvaluation(id, this.#on(options));
  }
}

/**
 * Binds every call to one caller: their token replaces any per-call token, and their signal
 * aborts the call when they disconnect. A per-call signal, where given, still applies too.
 */
export function bindToCaller(nomad: NomadClient, caller: Caller): CallerNomadClient {
  return new CallerBoundClient(nomad, caller);
}
