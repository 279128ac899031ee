import DataLoader from 'dataloader';
import type { CallerNomadClient } from './nomad/caller-client.ts';
import { NomadHttpError } from './nomad/errors.ts';
import type { Allocation, Evaluation, Job, NomadNode, ServiceRegistration } from './nomad/types.ts';
import { mapSettledLimit } from './lib/map-limit.ts';

/** Upstream reads in flight at once per loader batch; Nomad has no multi-get for these. */
const READ_CONCURRENCY = 16;

/** A job, or its services, is named by namespace and id. */
export interface NamespacedKey {
  namespace: string;
  id: string;
}

export interface AllocationServicesKey {
  namespace: string;
  jobId: string;
  allocId: string;
}

/**
 * Per-request loaders. Each batch collects the keys one tick of resolvers asks for, so a page
 * of allocations costs one read per distinct job, node or evaluation, never one per row.
 */
export interface Loaders {
  /** Full allocations by id; null when Nomad says it does not exist. */
  allocation: DataLoader<string, Allocation | null>;
  job: DataLoader<NamespacedKey, Job | null, string>;
  node: DataLoader<string, NomadNode | null>;
  evaluation: DataLoader<string, Evaluation | null>;
  /** Service registrations of one allocation, fetched once per job. */
  allocationServices: DataLoader<AllocationServicesKey, ServiceRegistration[], string>;
}

function nullOn404<T>(read: Promise<{ item: T }>): Promise<T | null> {
  return read.then(
    ({ item }) => item,
    (error: unknown) => {
      if (error instanceof NomadHttpError && error.status === 404) return null;
      throw error;
    },
  );
}

function toLoaderResults<T>(settled: PromiseSettledResult<T>[]): (T | Error)[] {
  return settled.map((result) => {
    if (result.status === 'fulfilled') return result.value;
    return result.reason instanceof Error ? result.reason : new Error(String(result.reason));
  });
}

function readEach<K, T>(keys: readonly K[], read: (key: K) => Promise<T>): Promise<(T | Error)[]> {
  return mapSettledLimit(keys, READ_CONCURRENCY, read).then(toLoaderResults);
}

/**
 * Each loader is made on first use: most operations use none or one of them, and an idle
 * subscription (a context held for its lifetime) should not carry five empty caches. A class, so
 * the getters live once on its prototype rather than as closures in every context.
 */
class LazyLoaders implements Loaders {
  readonly #nomad: CallerNomadClient;
  #allocation: Loaders['allocation'] | undefined;
  #job: Loaders['job'] | undefined;
  #node: Loaders['node'] | undefined;
  #evaluation: Loaders['evaluation'] | undefined;
  #allocationServices: Loaders['allocationServices'] | undefined;

  constructor(nomad: CallerNomadClient) {
    this.#nomad = nomad;
  }

  get allocation(): Loaders['allocation'] {
    const nomad = this.#nomad;
    return (this.#allocation ??= new DataLoader((ids) => readEach(ids, (id) => nullOn404(nomad.readAllocation(id)))));
  }

  get job(): Loaders['job'] {
    const nomad = this.#nomad;
    return (this.#job ??= new DataLoader(
      (keys) => readEach(keys, (key) => nullOn404(nomad.readJob(key.id, { namespace: key.namespace }))),
      { cacheKeyFn: (key) => `${key.namespace}\u0000${key.id}` },
    ));
  }

  get node(): Loaders['node'] {
    const nomad = this.#nomad;
    return (this.#node ??= new DataLoader((ids) => readEach(ids, (id) => nullOn404(nomad.readNode(id)))));
  }

  get evaluation(): Loaders['evaluation'] {
    const nomad = this.#nomad;
    return (this.#evaluation ??= new DataLoader((ids) => readEach(ids, (id) => nullOn404(nomad.readEvaluation(id)))));
  }

  get allocationServices(): Loaders['allocationServices'] {
    const nomad = this.#nomad;
    return (this.#allocationServices ??= new DataLoader(
      async (keys) => {
        const jobs = [...new Map(keys.map((k) => [`${k.namespace}\u0000${k.jobId}`, k])).values()];
        const perJob = await mapSettledLimit(jobs, READ_CONCURRENCY, (k) => nomad.jobServices(k.jobId, { namespace: k.namespace }));
        const byJob = new Map(jobs.map((k, i) => [`${k.namespace}\u0000${k.jobId}`, perJob[i]]));
        return keys.map((key) => {
          const result = byJob.get(`${key.namespace}\u0000${key.jobId}`);
          if (result === undefined) return new Error('unreachable: job batch missing');
          if (result.status === 'rejected') return result.reason instanceof Error ? result.reason : new Error(String(result.reason));
          return result.value.items.filter((s) => s.AllocID === key.allocId);
        });
      },
      { cacheKeyFn: (key) => `${key.namespace}\u0000${key.jobId}\u0000${key.allocId}` },
    ));
  }
}

/** Loaders over one caller's client: every read is made with that caller's token and signal. */
export function createLoaders(nomad: CallerNomadClient): Loaders {
  return new LazyLoaders(nomad);
}
