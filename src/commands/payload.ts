/** `securestream payload`: a file of random bytes, written in constant memory. */
import { createHash, randomFillSync } from 'node:crypto';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { outputError } from '../atomic.js';
import { sha256sumLine } from '../digest.js';
import { openOutput } from '../specialfile.js';

const BLOCK = 1024 * 1024;

/**
 * Writes `size` random bytes to `path` (atomically; in place for a device or FIFO) and returns
 * its `sha256sum` line. Aborting `signal` removes the partial file and rejects with the
 * signal's reason.
 */
export async function runPayload(
  path: string,
  size: number,
  signal?: AbortSignal,
): Promise<string> {
  const file = await openOutput(path, { signal });
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(Math.min(BLOCK, size));
  // A device or FIFO takes the bytes as a stream; a new file by offset, one block at a time.
  const sink = file.direct ? file.sink() : undefined;
  try {
    for (let written = 0; written < size;) {
      signal?.throwIfAborted();
      const buf = randomFillSync(block.subarray(0, Math.min(BLOCK, size - written)));
      hash.update(buf);
      if (sink) await writeOut(sink, buf);
      else if (!file.direct) {
        for (let off = 0; off < buf.length;) {
          off += (await file.handle.write(buf, off, buf.length - off, written + off)).bytesWritten;
        }
      }
      written += buf.length;
    }
    if (sink) await finished(sink.end());
    await file.commit();
  } catch (e) {
    await file.abort();
    signal?.throwIfAborted();
    throw outputError(e, path);
  }
  return sha256sumLine(hash.digest('hex'), path);
}

/** Writes `buf` and resolves once the sink has taken it (the buffer may then be reused). */
function writeOut(sink: Writable, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.write(buf, (e) => {
      if (e) reject(e);
      else resolve();
    });
  });
}
