/** Reads a gateway replica's `/metrics` (Prometheus text) for what the benchmarks count. */
import { request } from 'undici';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format, one sample per line (what prom-client writes). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (key !== undefined && value !== undefined) labels[key] = value;
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
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
