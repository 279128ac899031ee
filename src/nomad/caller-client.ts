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
 * Binds every call to one caller: their token replaces any per-call token, and their signal
 * aborts the call when they disconnect. A per-call signal, where given, still applies too.
 */
export function bindToCaller(nomad: NomadClient, caller: Caller): CallerNomadClient {
  const on = <O extends NomadCallOptions>(options: O): O => {
    const signal = options.signal === undefined ? caller.signal : caller.signal === undefined ? options.signal : either(options.signal, caller.signal);
    return { ...options, token: caller.token, signal };
  };
  return {
    listAllocations: (options = {}) => nomad.listAllocations(on(options)),
    readAllocation: (id, options = {}) => nomad.readAllocation(id, on(options)),
    stopAllocation: (id, options = {}) => nomad.stopAllocation(id, on(options)),
    signalAllocation: (id, options) => nomad.signalAllocation(id, on(options)),
    restartAllocation: (id, options = {}) => nomad.restartAllocation(id, on(options)),
    allocationServices: (id, options = {}) => nomad.allocationServices(id, on(options)),
    jobServices: (jobId, options = {}) => nomad.jobServices(jobId, on(options)),
    jobAllocations: (jobId, options = {}) => nomad.jobAllocations(jobId, on(options)),
    nodeAllocations: (nodeId, options = {}) => nomad.nodeAllocations(nodeId, on(options)),
    readJob: (id, options = {}) => nomad.readJob(id, on(options)),
    readNode: (id, options = {}) => nomad.readNode(id, on(options)),
    readEvaluation: (id, options = {}) => nomad.readEvaluation(id, on(options)),
  };
}
