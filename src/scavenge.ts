/**
 * Bounded memory for downloads on Node.js 24: node hands every TLS record it decrypts to
 * JavaScript in an ArrayBuffer of its own (16 KiB, about 65,000 per GiB), dead as soon as the
 * record is hashed and written. Node 20's V8 answered their growth ("external memory
 * pressure") with a scavenge of the young generation, which frees them in under a millisecond;
 * Node 24's answers with incremental marking of the whole heap, which lets 60–90 MB of dead
 * records pile up before it finishes, so a `get`'s peak RSS grew with the file (docs/
 * PERFORMANCE.md, case 5). A download therefore asks for a scavenge itself after every
 * SCAVENGE_EVERY bytes received. V8's heap sizing flags would do it too, but they are read
 * only when the process starts (v8.setFlagsFromString of --max-semi-space-size is ignored
 * later, measured); the garbage collector is reached by enabling --expose-gc for one new
 * context, which gives nothing to any other code.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes received between two scavenges asked for. */
export const SCAVENGE_EVERY = 8 * 1024 * 1024;

type Collect = (opts: { type: 'minor' }) => void;

let collect: Collect | null | undefined;
let owed = 0;

/** Counts `bytes` received from the network; every SCAVENGE_EVERY, runs a scavenge. */
export function received(bytes: number): void {
  owed += bytes;
  if (owed < SCAVENGE_EVERY) return;
  owed = 0;
  collect ??= reachCollector();
  collect?.({ type: 'minor' });
}

function reachCollector(): Collect | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
