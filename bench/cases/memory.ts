/**
 * Case 5: peak RSS of `serve` and `get` for a small and a large file (fresh server each time,
 * so VmHWM belongs to that one transfer). Memory should not grow with the file size.
 */
import { GiB, MB, figure, fmt, sizeName, type Stat } from '../measure.js';
import { getCmd, startServe } from '../peers/securestream.js';
import { measureOnce, verifyGet, type CaseContext, type Contender, type Sample } from './common.js';

export interface MemoryResult {
  sizes: { size: number; sparse: boolean }[];
  /** samples[i][round] for size i. */
  samples: (Sample | undefined)[][];
  errors: string[];
}

export async function caseMemory(ctx: CaseContext): Promise<MemoryResult> {
  const files = [ctx.file('small'), ctx.file('large')];
  const p = ctx.peer;
  const c: Contender = {
    name: 'securestream',
    start: () => startServe(p),
    command: (s, f, out) => getCmd(p, s.port, f.name, out),
    fsyncAfter: false,
    verify: (t, f, out) =>
      // The large file is sparse (zeros): the printed digest is checked, hashing it again here
      // would add seconds to every round and measure nothing new.
      f.sparse
        ? Promise.resolve().then(() => {
            const printed = t.stdout.trim().split(/\s+/)[0];
            if (printed !== f.sha256) throw new Error(`get printed ${printed}, want ${f.sha256}`);
          })
        : verifyGet(t, f.sha256, out, 'memory'),
  };
  ctx.log(
    `case 5: peak RSS for ${files.map((f) => sizeName(f.size)).join(' vs ')}, ${ctx.plan.runs} rounds`,
  );
  const result: MemoryResult = {
    sizes: files.map((f) => ({ size: f.size, sparse: f.sparse })),
    samples: files.map(() => []),
    errors: [],
  };
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const [i, f] of files.entries()) {
      try {
        const s = await measureOnce(ctx, c, f, `mem-${i}-${r}`);
        (result.samples[i] ?? []).push(s);
        ctx.log(
          `memory round ${r + 1}: ${sizeName(f.size)} server ${(s.serverRss / MB).toFixed(0)} MB, client ${(s.clientRss / MB).toFixed(0)} MB, ${(f.size / s.wall / MB).toFixed(0)} MB/s`,
        );
      } catch (e) {
        result.errors.push(`${sizeName(f.size)} round ${r + 1}: ${String(e)}`);
        ctx.log(`memory round ${r + 1}: ${sizeName(f.size)} FAILED: ${String(e)}`);
      }
    }
  }
  return result;
}

export function memoryFigure(m: MemoryResult, i: number, f: (s: Sample) => number): Stat {
  return figure({ rounds: m.samples[i] ?? [] }, f);
}

export function memoryRows(m: MemoryResult): string[][] {
  const rows = [['file', 'server peak RSS MB', 'client peak RSS MB', 'MB/s', 'server CPU s/GiB']];
  m.sizes.forEach((z, i) => {
    rows.push([
      `${sizeName(z.size)}${z.sparse ? ' (sparse)' : ''}`,
      fmt(memoryFigure(m, i, (s) => s.serverRss / MB)),
      fmt(memoryFigure(m, i, (s) => s.clientRss / MB)),
      fmt(memoryFigure(m, i, (s) => z.size / s.wall / MB)),
      fmt(
        memoryFigure(m, i, (s) => s.serverCpu / (z.size / GiB)),
        2,
      ),
    ]);
  });
  return rows;
}

/** large ÷ small of the medians, for server and client peak RSS. */
export function memoryGrowth(m: MemoryResult): { server: number; client: number } {
  const med = (i: number, f: (s: Sample) => number) => memoryFigure(m, i, f).median;
  return {
    server: med(1, (s) => s.serverRss) / med(0, (s) => s.serverRss),
    client: med(1, (s) => s.clientRss) / med(0, (s) => s.clientRss),
  };
}
