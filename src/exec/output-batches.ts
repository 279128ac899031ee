import type { ExecOutputFrame } from './transport.ts';

/** The most bytes one batch carries. */
export const MAX_BATCH_BYTES = 64 * 1024;

const NOT_READY = Symbol('not ready');

/** `pending`'s result if it is already there (settles before the event loop turns), else NOT_READY. */
function readyNow<T>(pending: Promise<T>): Promise<T | typeof NOT_READY> {
  return Promise.race([pending, new Promise<typeof NOT_READY>((resolve) => setImmediate(() => resolve(NOT_READY)))]);
}

/**
 * A command's output as batches: consecutive frames of one stream that have already arrived (Nomad
 * sends bulk output in frames of about a kilobyte) go out as one, up to `maxBytes`, so a subscriber
 * gets one event per burst rather than per frame. Nothing waits for more: a batch closes as soon as
 * the next frame is not there yet, so a keystroke's echo is not held back. `first` is the first
 * frame already asked for, if any (the broker peeks at it to learn that the session started).
 */
export async function* batchOutput(
  frames: AsyncIterator<ExecOutputFrame>,
  first?: Promise<IteratorResult<ExecOutputFrame>>,
  maxBytes: number = MAX_BATCH_BYTES,
): AsyncGenerator<{ stream: 'stdout' | 'stderr'; data: Buffer }> {
  let pending = first ?? frames.next();
  for (;;) {
    const result = await pending;
    if (result.done === true) return;
    pending = frames.next();
    const frame = result.value;
    if (frame.kind !== 'output') continue;
    const parts = [frame.data];
    let size = frame.data.length;
    while (size < maxBytes) {
      const ready = await readyNow(pending);
      if (ready === NOT_READY) break;
      if (ready.done === true || ready.value.kind !== 'output' || ready.value.stream !== frame.stream) {
        // Another stream, a closed stream or the end: left for the next round, in order.
        pending = Promise.resolve(ready);
        break;
      }
      parts.push(ready.value.data);
      size += ready.value.data.length;
      pending = frames.next();
    }
    yield { stream: frame.stream, data: parts.length === 1 ? frame.data : Buffer.concat(parts, size) };
  }
}
