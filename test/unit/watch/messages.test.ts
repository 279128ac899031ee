import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NomadDecodeError } from '../../../src/nomad/errors.ts';
import { decodeAllocation, decodeAllocListStubs } from '../../../src/nomad/decode.ts';
import { parseNomadJson } from '../../../src/nomad/json.ts';
import { decodeWatchMessage, encodeWatchMessage, type WatchMessage } from '../../../src/watch/messages.ts';

function fixture(name: string): unknown {
  return parseNomadJson(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));
}

describe('watch messages on the backbone', () => {
  const stubs = decodeAllocListStubs(fixture('nomad-allocations-list.json'));
  const alloc = decodeAllocation(fixture('nomad-allocation-read.json'));

  it('should carry list changes across unchanged, 64-bit indexes and nanosecond times exact', () => {
    const message: WatchMessage = {
      kind: 'changes',
      fromIndex: 9_007_199_254_740_993n,
      index: 18_446_744_073_709_551_615n,
      upserts: stubs,
      removed: ['5456bd7a-9fc0-c0dd-6131-cbee77f57577'],
    };
    const decoded = decodeWatchMessage(encodeWatchMessage(message));
    expect(decoded).toStrictEqual(message);
  });

  it('should carry a full allocation, and its disappearance, across unchanged', () => {
    for (const message of [
      { kind: 'allocation', index: 42n, allocation: alloc },
      { kind: 'allocation', index: 43n, allocation: null },
      { kind: 'unreachable', index: 44n },
    ] satisfies WatchMessage[]) {
      expect(decodeWatchMessage(encodeWatchMessage(message))).toStrictEqual(message);
    }
  });

  it('should refuse what is not a watch message of this version, naming where', () => {
    const bad = [
      'not json',
      '[]',
      '{"v":2,"kind":"unreachable","index":1}',
      '{"v":1,"kind":"gossip","index":1}',
      '{"v":1,"kind":"unreachable","index":-1}',
      '{"v":1,"kind":"changes","index":2,"fromIndex":1,"upserts":[{"ClientStatus":"bogus"}],"removed":[]}',
      '{"v":1,"kind":"changes","index":2,"fromIndex":1,"upserts":[],"removed":[7]}',
    ];
    for (const text of bad) expect(() => decodeWatchMessage(text), text).toThrow();
    try {
      decodeWatchMessage('{"v":1,"kind":"changes","index":2,"fromIndex":1,"upserts":[],"removed":[7]}');
    } catch (error) {
      expect(error).toBeInstanceOf(NomadDecodeError);
      expect((error as NomadDecodeError).jsonPath).toBe('$.removed[0]');
    }
  });
});
