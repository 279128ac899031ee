import { describe, expect, it } from 'vitest';
import { batchOutput } from '../../../src/exec/output-batches.ts';
import type { ExecOutputFrame } from '../../../src/exec/transport.ts';

/** Frames as a connection yields them: `later` ones only after a timer, as if Nomad sent them later. */
function source(frames: { frame: ExecOutputFrame; later?: boolean }[]): AsyncIterator<ExecOutputFrame> {
  let i = 0;
  return {
    next: async () => {
      const item = frames[i++];
      if (item === undefined) return { done: true, value: undefined };
      if (item.later === true) await new Promise((resolve) => setTimeout(resolve, 5));
      return { done: false, value: item.frame };
    },
  };
}

const out = (stream: 'stdout' | 'stderr', text: string): ExecOutputFrame => ({ kind: 'output', stream, data: Buffer.from(text) });

async function collect(iterator: AsyncIterator<ExecOutputFrame>, maxBytes?: number, first?: Promise<IteratorResult<ExecOutputFrame>>) {
  const batches: string[] = [];
  for await (const batch of batchOutput(iterator, first, maxBytes)) batches.push(`${batch.stream}:${batch.data.toString()}`);
  return batches;
}

describe('batchOutput', () => {
  it('merges frames of one stream that are already there, in order, and keeps streams apart', async () => {
    const batches = await collect(source([{ frame: out('stdout', 'a') }, { frame: out('stdout', 'b') }, { frame: out('stderr', 'E') }, { frame: out('stdout', 'c') }, { frame: { kind: 'output-closed', stream: 'stdout' } }, { frame: out('stderr', 'F') }]));
    expect(batches).toEqual(['stdout:ab', 'stderr:E', 'stdout:c', 'stderr:F']);
  });

  it('does not wait for a frame that is not there yet', async () => {
    const batches = await collect(source([{ frame: out('stdout', 'x') }, { frame: out('stdout', 'y'), later: true }, { frame: out('stdout', 'z') }]));
    expect(batches).toEqual(['stdout:x', 'stdout:yz']);
  });

  it('closes a batch at the byte bound', async () => {
    const frames = Array.from({ length: 5 }, () => ({ frame: out('stdout', '1234') }));
    expect(await collect(source(frames), 8)).toEqual(['stdout:12341234', 'stdout:12341234', 'stdout:1234']);
  });

  it('starts from a first frame already asked for', async () => {
    const iterator = source([{ frame: out('stdout', 'first') }, { frame: out('stdout', '+rest') }]);
    const first = iterator.next();
    expect(await collect(iterator, undefined, first)).toEqual(['stdout:first+rest']);
  });
});
