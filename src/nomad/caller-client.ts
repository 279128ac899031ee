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
 * Binds every call to one caller: their token replaces any per-call token, and their signal
 * aborts the call when they disconnect. A per-call signal, where given, still applies too.
 */
export function bindToCaller(nomad: NomadClient, caller: Caller): CallerNomadClient {
  const on = <O extends NomadCallOptions>(options: O): O => {
    const signal =
      options.signal === undefined ? caller.signal : caller.signal === undefined ? options.signal : AbortSignal.any([options.signal, caller.signal]);
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
    readJob: (id, options = {}) => nomad.readJob(id, on(options)),
    readNode: (id, options = {}) => nomad.readNode(id, on(options)),
    readEvaluation: (id, options = {}) => nomad.readEvaluation(id, on(options)),
  };
}
