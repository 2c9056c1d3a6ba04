/** `securestream payload`: a file of random bytes, written in constant memory. */
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  try {
    await pipeline(Readable.from(randomBlocks(size, hash)), file.sink(), signal ? { signal } : {});
    await file.commit();
  } catch (e) {
    await file.abort();
    signal?.throwIfAborted();
    throw outputError(e, path);
  }
  return sha256sumLine(hash.digest('hex'), path);
}

/** `size` random bytes in blocks of BLOCK bytes, each hashed into `hash` as it is made. */
function* randomBlocks(size: number, hash: Hash): Generator<Buffer> {
  for (let left = size; left > 0; left -= BLOCK) {
    const block = randomFillSync(Buffer.allocUnsafe(Math.min(BLOCK, left)));
    hash.update(block);
    yield block;
  }
}
