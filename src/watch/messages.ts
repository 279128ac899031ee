/**
 * What watchers publish on the backbone, and how it crosses Redis: JSON as Nomad writes it (64-bit
 * integers exact), decoded and validated on arrival with the same decoders as Nomad's answers,
 * never cast. A message names no token: it travels only on its watch key's channel, whose name
 * carries a hash of the token.
 */
import { decodeAllocation, decodeAllocListStub } from '../nomad/decode.ts';
import { at, bool, decodeArray, enumOf, expectObject, fail, int, str, stringValue, uint64 } from '../nomad/decode-fields.ts';
import { encodeNomadJson, parseNomadJson } from '../nomad/json.ts';
import type { AllocListStub, Allocation } from '../nomad/types.ts';

/** The version of the message format; a replica refuses other versions rather than misread them. */
const VERSION = 1;

export type WatchMessage =
  /**
   * What changed in a list watch between two Nomad indexes: allocations new or modified (the
   * list stub as Nomad sends it, task states included) and ids no longer matching. With `resync`,
   * Nomad's index went backwards (a restored cluster): `index` may be below `fromIndex`, and an
   * upsert replaces whatever differs, a lower ModifyIndex included.
   */
  | { kind: 'changes'; fromIndex: bigint; index: bigint; upserts: AllocListStub[]; removed: string[]; resync?: boolean }
  /** A single allocation as it is at `index`; null once Nomad no longer has it. */
  | { kind: 'allocation'; index: bigint; allocation: Allocation | null }
  /** The watcher cannot reach Nomad; data is as of `index`. */
  | { kind: 'unreachable'; index: bigint }
  /** Nomad refused the key's token (or the question): subscriptions of the key end with this error. */
  | { kind: 'refused'; index: bigint; status: number; nomadMessage: string };

const KINDS = ['changes', 'allocation', 'unreachable', 'refused'] as const;

export function encodeWatchMessage(message: WatchMessage): string {
  return encodeNomadJson({ ...message, v: VERSION });
}

/** Parses and validates a message; throws `NomadDecodeError` (with the JSON path) on anything else. */
export function decodeWatchMessage(text: string): WatchMessage {
  const o = expectObject(parseNomadJson(text), undefined);
  if (o['v'] !== VERSION) fail(undefined, `a watch message of version ${VERSION}`, o['v']);
  const kind = enumOf(o, 'kind', KINDS, undefined);
  const index = uint64(o, 'index', undefined);
  switch (kind) {
    case 'changes':
      return {
        kind,
        fromIndex: uint64(o, 'fromIndex', undefined),
        index,
        upserts: decodeArray(o['upserts'], at(undefined, 'upserts'), decodeAllocListStub),
        removed: decodeArray(o['removed'], at(undefined, 'removed'), stringValue),
        ...(bool(o, 'resync', undefined) ? { resync: true } : {}),
      };
    case 'allocation':
      return { kind, index, allocation: o['allocation'] === null ? null : decodeAllocation(o['allocation'], at(undefined, 'allocation')) };
    case 'unreachable':
      return { kind, index };
    case 'refused':
      return { kind, index, status: int(o, 'status', undefined), nomadMessage: str(o, 'nomadMessage', undefined) };
  }
}
