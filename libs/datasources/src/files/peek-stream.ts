import { PassThrough, Readable } from 'node:stream';

/**
 * Reads up to `bytes` from the front of a stream without losing them: returns
 * the head and a stream that replays it followed by the rest. `complete` is
 * true when the source ended within the head.
 */
export async function peekStream(
  source: Readable | AsyncIterable<Uint8Array>,
  bytes: number,
): Promise<{ head: Buffer; complete: boolean; stream: Readable }> {
  const input = source instanceof Readable ? source : Readable.from(source);
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let complete = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      complete = true;
      break;
    }
    const buf = typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value);
    chunks.push(buf);
    size += buf.length;
  }
  const all = Buffer.concat(chunks);
  const head = all.subarray(0, Math.min(bytes, all.length));
  const out = new PassThrough();
  out.write(all);
  if (complete) {
    out.end();
  } else {
    // the rest of the source, with back-pressure, errors forwarded
    void (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          const chunk = next.value;
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', r));
          if (out.destroyed) break;
        }
        out.end();
      } catch (err) {
        out.destroy(err as Error);
      }
    })();
    out.on('close', () => {
      if (!input.destroyed) input.destroy();
    });
  }
  return { head, complete, stream: out };
}
