/**
 * What the benchmark measures and how it summarises: CPU time and peak RSS of process trees
 * from /proc, clients timed by GNU time (getrusage of the waited child), medians with min–max,
 * and a plain-text table.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { start, waitExit, type SpawnOptions } from './procs.js';

/** Median, min and max of several runs of one figure. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, samples };
}

/** One contender's samples, indexed by round; a failed round stays empty. */
export interface Rounds<S> {
  rounds: (S | undefined)[];
}

/** A figure over the rounds that have a sample. */
export function figure<S>(t: Rounds<S>, f: (s: S) => number): Stat {
  return stat(t.rounds.filter((s): s is S => s !== undefined).map(f));
}

/**
 * Per-round ratios of a figure, a over b, for the rounds where both have a sample: each ratio
 * pairs two measurements taken in the same round, under the same machine load.
 */
export function pairedRatio<S>(a: Rounds<S>, b: Rounds<S>, f: (s: S) => number): Stat {
  const out: number[] = [];
  a.rounds.forEach((s, r) => {
    const o = b.rounds[r];
    if (s && o) out.push(f(s) / f(o));
  });
  return stat(out);
}

/** `median (min–max)` with `digits` decimals. */
export function fmt(s: Stat | undefined, digits = 0): string {
  if (!s || s.samples.length === 0) return '–';
  const f = (x: number) => x.toFixed(digits);
  return s.samples.length === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** Collects named figures over several runs. */
export class Series {
  private readonly data = new Map<string, number[]>();
  add(name: string, value: number): void {
    const list = this.data.get(name) ?? [];
    list.push(value);
    this.data.set(name, list);
  }
  get(name: string): Stat | undefined {
    const list = this.data.get(name);
    return list ? stat(list) : undefined;
  }
  toJSON(): Record<string, Stat> {
    return Object.fromEntries([...this.data.keys()].map((k) => [k, stat(this.data.get(k) ?? [])]));
  }
}

/** Clock ticks per second of /proc/PID/stat times (USER_HZ). */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime+stime+cutime+cstime of one process in seconds; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
    return ticks / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** VmHWM (peak resident set) of one process in bytes; undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `root` and all its descendants, from the parent PIDs in /proc. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(join('/proc', name, 'stat'), 'utf8');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // exited while we looked
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** CPU seconds of a tree: its live members plus what their reaped children used. */
export function treeCpu(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
}

/**
 * Watches a server's process tree during one measurement: peak RSS is the sum, over every
 * process seen in the tree, of its VmHWM (for a single process, exactly its VmHWM; for
 * nginx master+worker and sshd's per-connection processes, an upper bound of the moment).
 */
export class TreeWatch {
  private readonly hwm = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly cpu0: number;
  private readonly members0: number;

  constructor(
    private readonly root: number,
    intervalMs = 100,
  ) {
    this.cpu0 = treeCpu(root);
    this.members0 = processTree(root).length;
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, intervalMs);
  }

  private sample(): void {
    for (const pid of processTree(this.root)) {
      const v = peakRss(pid);
      if (v !== undefined) this.hwm.set(pid, Math.max(v, this.hwm.get(pid) ?? 0));
    }
  }

  /**
   * Stops watching once per-connection children (sshd) have gone, so their CPU time is in the
   * parent's cutime/cstime; returns CPU seconds used since the start and the peak RSS.
   */
  async finish(settleMs = 3000): Promise<{ cpu: number; rss: number }> {
    const deadline = Date.now() + settleMs;
    while (processTree(this.root).length > this.members0 && Date.now() < deadline) {
      this.sample();
      await new Promise((r) => setTimeout(r, 25));
    }
    this.sample();
    clearInterval(this.timer);
    const rss = [...this.hwm.values()].reduce((a, b) => a + b, 0);
    return { cpu: treeCpu(this.root) - this.cpu0, rss };
  }

  /** Stops sampling without waiting. */
  cancel(): void {
    clearInterval(this.timer);
  }
}

/** One client run under GNU time. */
export interface Timed {
  code: number | string;
  /** Wall seconds from spawn to exit, measured here. */
  wall: number;
  /** User + system CPU seconds of the client and the children it waited for. */
  cpu: number;
  /** Peak RSS in bytes (ru_maxrss). */
  rss: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` under /usr/bin/time and returns wall time, CPU and peak RSS. */
export async function timed(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs: number; what: string; scratch: string },
): Promise<Timed> {
  const stats = `${opts.scratch}.time`;
  const out = `${opts.scratch}.out`;
  const err = `${opts.scratch}.err`;
  await Promise.all([stats, out, err].map((f) => rm(f, { force: true })));
  const t0 = process.hrtime.bigint();
  const p = start('/usr/bin/time', ['-f', '%U %S %M', '-o', stats, cmd, ...args], {
    ...opts,
    stdout: out,
    stderr: err,
  });
  const code = await waitExit(p, opts.timeoutMs, opts.what);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const read = (f: string) => readFile(f, 'utf8').catch(() => '');
  const line = (await read(stats)).trim().split('\n').pop() ?? '';
  const [u, s, m] = line.split(' ').map(Number);
  return {
    code,
    wall,
    cpu: (u ?? NaN) + (s ?? NaN),
    rss: (m ?? NaN) * 1024,
    stdout: await read(out),
    stderr: await read(err),
  };
}

/** A plain-text table: first row is the header; columns padded, numbers right-aligned. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  // A two-cell row ("peer", "skipped: why") spans the table and does not set column widths.
  const spans = (r: string[]) => r.length === 2 && (rows[0]?.length ?? 0) > 2;
  for (const r of rows) {
    if (!spans(r)) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  }
  const line = (r: string[]) =>
    spans(r)
      ? `${(r[0] ?? '').padEnd(widths[0] ?? 0)}  ${r[1] ?? ''}`
      : r
          .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join('  ')
          .trimEnd();
  const [head, ...body] = rows;
  if (!head) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Bytes → `256 MiB` / `1 GiB`. */
export function sizeName(bytes: number): string {
  return bytes >= GiB && bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`;
}
