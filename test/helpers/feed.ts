/** Drives a Transform with input cut into slices, the way a socket or a file would deliver it. */
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Runs `input` through `t` in slices of `next()` bytes; the output so far and any error. */
export async function feedSlices(
  t: Transform,
  input: Buffer,
  next: () => number,
): Promise<{ out: Buffer; err: unknown }> {
  function* slices() {
    for (let i = 0; i < input.length;) {
      const n = Math.min(next(), input.length - i);
      yield input.subarray(i, i + n);
      i += n;
    }
  }
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  try {
    await pipeline(Readable.from(slices()), t);
    return { out: Buffer.concat(out), err: undefined };
  } catch (err) {
    return { out: Buffer.concat(out), err };
  }
}

/** {@link feedSlices} that rejects with the stream's error. */
export async function feed(t: Transform, input: Buffer, next: () => number): Promise<Buffer> {
  const { out, err } = await feedSlices(t, input, next);
  if (err instanceof Error) throw err;
  if (err !== undefined) throw new Error('stream failed with a non-Error value');
  return out;
}

/** Slice sizes of 1..max bytes from a seeded xorshift: random-looking, the same every run. */
export function seededSizes(max: number, seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return 1 + ((s >>> 0) % max);
  };
}
