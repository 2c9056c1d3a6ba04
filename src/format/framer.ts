/** Above this many pieces a chunk is copied into one buffer: one copy beats many tiny calls. */
const MAX_PIECES = 8;

/**
 * Cuts a byte stream into fixed-size frames with one byte of look-ahead (FORMAT-v1 step 5):
 * a full frame is released only once a byte beyond it has arrived, so whatever remains at the
 * end of input is the final frame. Input buffers are kept as views, not copied.
 */
export class Framer {
  private pieces: Buffer[] = [];
  private length = 0;

  constructor(readonly size: number) {}

  /** Bytes held. */
  get buffered(): number {
    return this.length;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  /** The next `size` bytes as pieces, if more than `size` bytes are held; else undefined. */
  takeFull(): Buffer[] | undefined {
    if (this.length <= this.size) return undefined;
    const out: Buffer[] = [];
    let need = this.size;
    let i = 0;
    while (need > 0) {
      const p = this.pieces[i] as Buffer;
      if (p.length <= need) {
        out.push(p);
        need -= p.length;
        i++;
      } else {
        out.push(p.subarray(0, need));
        this.pieces[i] = p.subarray(need);
        need = 0;
      }
    }
    this.pieces.splice(0, i);
    this.length -= this.size;
    return coalesce(out, this.size);
  }

  /** Everything held (the final frame), possibly empty. */
  takeRest(): Buffer[] {
    const out = coalesce(this.pieces, this.length);
    this.pieces = [];
    this.length = 0;
    return out;
  }
}

function coalesce(pieces: Buffer[], length: number): Buffer[] {
  return pieces.length > MAX_PIECES ? [Buffer.concat(pieces, length)] : pieces;
}

/** Splits pieces into the leading pieces and the last `n` bytes (copied only if split). */
export function splitTail(pieces: readonly Buffer[], n: number): [Buffer[], Buffer] {
  const head: Buffer[] = [];
  let total = 0;
  for (const p of pieces) total += p.length;
  let keep = total - n;
  const tail: Buffer[] = [];
  for (const p of pieces) {
    if (keep >= p.length) {
      head.push(p);
      keep -= p.length;
    } else {
      if (keep > 0) head.push(p.subarray(0, keep));
      tail.push(p.subarray(Math.max(keep, 0)));
      keep = 0;
    }
  }
  return [head, tail.length === 1 ? (tail[0] as Buffer) : Buffer.concat(tail)];
}
