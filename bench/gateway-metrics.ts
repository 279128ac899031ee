/** Reads a gateway replica's `/metrics` (Prometheus text) for what the benchmarks count. */
import { request } from 'undici';
import { parsePrometheusText, type Sample } from './prometheus-text.ts';

export type { Sample } from './prometheus-text.ts';

/**
 * Parses the text exposition format leniently: a line that is not a sample is left out rather
 * than failing a benchmark run over a metric it does not read.
 */
export function parseExposition(text: string): Sample[] {
  return parsePrometheusText(text, { strict: false });
}

export async function readMetrics(gatewayUrl: string): Promise<Sample[]> {
  const response = await request(`${gatewayUrl}/metrics`);
  return parseExposition(await response.body.text());
}

/** Upstream requests so far, by `route` (blocking queries left out unless asked). */
export async function upstreamCalls(gatewayUrl: string, options: { blocking?: boolean } = {}): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const sample of await readMetrics(gatewayUrl)) {
    if (sample.name !== 'nomad_gateway_upstream_requests_total') continue;
    if (options.blocking !== undefined && sample.labels['blocking'] !== String(options.blocking)) continue;
    const route = sample.labels['route'] ?? 'other';
    calls.set(route, (calls.get(route) ?? 0) + sample.value);
  }
  return calls;
}

/** `after - before`, by key, without the zeros. */
export function difference(after: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) result.set(key, delta);
  }
  return result;
}
