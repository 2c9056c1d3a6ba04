/** `securestream payload`: a file of random bytes, written in constant memory. */
import { createHash, randomFillSync } from 'node:crypto';
import { AtomicFile, outputError } from '../atomic.js';
import { sha256sumLine } from '../digest.js';

const BLOCK = 1024 * 1024;

/**
 * Writes `size` random bytes to `path` (atomically) and returns its `sha256sum` line. Aborting
 * `signal` removes the partial file and rejects with the signal's reason.
 */
export async function runPayload(
  path: string,
  size: number,
  signal?: AbortSignal,
): Promise<string> {
  const file = await AtomicFile.create(path, { signal });
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(Math.min(BLOCK, size));
  try {
    let written = 0;
    while (written < size) {
      signal?.throwIfAborted();
      const n = Math.min(BLOCK, size - written);
      const buf = block.subarray(0, n);
      randomFillSync(buf);
      hash.update(buf);
      let off = 0;
      while (off < n)
        off += (await file.handle.write(buf, off, n - off, written + off)).bytesWritten;
      written += n;
    }
    await file.commit();
  } catch (e) {
    await file.abort();
    signal?.throwIfAborted();
    throw outputError(e, path);
  }
  return sha256sumLine(hash.digest('hex'), path);
}
