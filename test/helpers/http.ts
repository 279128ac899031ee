import { parseNomadJson } from '../../src/nomad/json.ts';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** One HTTP request with the platform's fetch; the body is read whole. */
export async function send(
  baseUrl: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const response = await fetch(`${baseUrl}${path}`, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A successful JSON read: asserts 200 and parses the body losslessly. */
export async function getJson(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<{ body: unknown; headers: Headers }> {
  const response = await send(baseUrl, path, { headers });
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${response.text}`);
  return { body: parseNomadJson(response.text), headers: response.headers };
}

/** Narrows an unknown JSON value to an object, failing the test otherwise. */
export function asRecord(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`not an object: ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

export function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`not an array: ${JSON.stringify(value)}`);
  return value;
}

/** The JSON type name of a value as the seed documents it (integers beyond 2^53 arrive as digit strings). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string' && /^-?\d{16,}$/.test(value)) return 'number';
  return typeof value;
}
