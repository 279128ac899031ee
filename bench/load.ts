/**
 * The load generator of every HTTP scenario: undici's connection pool, whose cost per response is
 * small and the same whatever answers (a body is read to its end and counted, never parsed), so
 * that a ratio between two targets measures the targets and not the client.
 */
import { Pool } from 'undici';

/** One HTTP request, sent again and again. */
export interface LoadTarget {
  /** e.g. `http://127.0.0.1:4646` */
  origin: string;
  method: 'GET' | 'POST';
  /** Path and query string. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSample {
  /** Latency of each request, in ms, from sending it to having read its whole body. */
  latenciesMs: number[];
  /** Wall time of the run, in ms. */
  elapsedMs: number;
  /** Body bytes read, over every request. */
  bytes: number;
  /** Requests answered with anything but 200, or that failed. */
  errors: number;
}

export interface LoadSummary {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests per second over the whole run. */
  throughput: number;
  /** Mean body size. */
  bytesPerResponse: number;
  errors: number;
}

/** Percentile `p` (0..1) of sorted numbers, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? Number.NaN;
}

/** Folds the samples of several slices of one target into one summary. */
export function summarise(samples: readonly LoadSample[]): LoadSummary {
  const latencies = samples.flatMap((sample) => sample.latenciesMs).sort((a, b) => a - b);
  const elapsed = samples.reduce((sum, sample) => sum + sample.elapsedMs, 0);
  const bytes = samples.reduce((sum, sample) => sum + sample.bytes, 0);
  return {
    requests: latencies.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    throughput: elapsed === 0 ? 0 : (latencies.length * 1000) / elapsed,
    bytesPerResponse: latencies.length === 0 ? 0 : bytes / latencies.length,
    errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
  };
}

/** A pool of keep-alive connections to one origin, one per concurrent request. */
export class LoadClient {
  readonly #pool: Pool;
  readonly #concurrency: number;

  constructor(origin: string, concurrency: number) {
    this.#pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
    this.#concurrency = concurrency;
  }

  /** One request, its whole body read: latency and size, or an error. */
  async once(target: LoadTarget): Promise<{ ms: number; bytes: number; ok: boolean; text?: string }> {
    const started = performance.now();
    try {
      const response = await this.#pool.request({ method: target.method, path: target.path, headers: target.headers, body: target.body });
      let bytes = 0;
      for await (const chunk of response.body) bytes += (chunk as Buffer).length;
      return { ms: performance.now() - started, bytes, ok: response.statusCode === 200 };
    } catch {
      return { ms: performance.now() - started, bytes: 0, ok: false };
    }
  }

  /** Keeps `concurrency` requests in flight for `durationMs` (or `count` requests in all). */
  async run(target: LoadTarget, limit: { durationMs: number } | { count: number }): Promise<LoadSample> {
    const latenciesMs: number[] = [];
    let bytes = 0;
    let errors = 0;
    let started = 0;
    const begin = performance.now();
    const more = 'count' in limit ? () => started < limit.count : () => performance.now() - begin < limit.durationMs;
    const worker = async (): Promise<void> => {
      while (more()) {
        started += 1;
        const result = await this.once(target);
        latenciesMs.push(result.ms);
        bytes += result.bytes;
        if (!result.ok) errors += 1;
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, worker));
    return { latenciesMs, elapsedMs: performance.now() - begin, bytes, errors };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * Measures targets side by side: `slices` rounds, each giving every target the same time in turn
 * (after a warm-up of each), so that machine noise falls on all of them alike.
 */
export async function compare(
  targets: Readonly<Record<string, LoadTarget>>,
  options: { concurrency: number; sliceMs: number; slices: number; warmupMs: number },
): Promise<Record<string, LoadSummary>> {
  const names = Object.keys(targets);
  const clients = new Map(names.map((name) => [name, new LoadClient(targets[name]?.origin ?? '', options.concurrency)]));
  const samples = new Map<string, LoadSample[]>(names.map((name) => [name, []]));
  try {
    for (const name of names) await clients.get(name)?.run(targets[name] as LoadTarget, { durationMs: options.warmupMs });
    for (let slice = 0; slice < options.slices; slice++) {
      // Alternate the order too, so neither side always follows the other.
      const order = slice % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const sample = await clients.get(name)?.run(targets[name] as LoadTarget, { durationMs: options.sliceMs });
        if (sample !== undefined) samples.get(name)?.push(sample);
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
  }
  return Object.fromEntries(names.map((name) => [name, summarise(samples.get(name) ?? [])]));
}
