import type { NomadClient } from '../../src/nomad/client.ts';

/** Most reads one loader batch runs at once (`READ_CONCURRENCY` in src/loaders.ts). */
export const LOADER_READ_CONCURRENCY = 16;

/** What a recording client saw of its full allocation reads. */
export interface ReadLog {
  ids: string[];
  inFlight: number;
  maxInFlight: number;
  /** Reads that had started before the first one finished: one batch starts its first wave together. */
  startedBeforeFirstSettled: number;
  settled: number;
}

export function emptyReadLog(): ReadLog {
  return { ids: [], inFlight: 0, maxInFlight: 0, startedBeforeFirstSettled: 0, settled: 0 };
}

/** Empties `log` in place, for a log shared with a running gateway. */
export function resetReadLog(log: ReadLog): void {
  Object.assign(log, emptyReadLog());
}

/** The real client, with `readAllocation` recorded in `log` (a call log, not a mock: every read still goes to Nomad). */
export function recordingClient(nomad: NomadClient, log: ReadLog): NomadClient {
  return {
    ...nomad,
    readAllocation: async (id, options) => {
      log.ids.push(id);
      log.inFlight += 1;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      if (log.settled === 0) log.startedBeforeFirstSettled += 1;
      try {
        return await nomad.readAllocation(id, options);
      } finally {
        log.inFlight -= 1;
        log.settled += 1;
      }
    },
  };
}
