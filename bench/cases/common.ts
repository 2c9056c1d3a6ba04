/**
 * What the cases share: the plan (sizes, runs), the served files, and one measured download
 * (fresh server, client under GNU time, server tree watched, copy verified, copy deleted).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat as fsStat } from 'node:fs/promises';
import { join } from 'node:path';
import { TreeWatch, timed, type Timed } from '../measure.js';
import type { Command, PeerContext, Server } from '../peers/types.js';

/** Sizes, counts and durations of one benchmark invocation. */
export interface Plan {
  full: boolean;
  runs: number;
  /** Case 1 and 2 file size. */
  downloadBytes: number;
  concurrentClients: number;
  /** Case 4 file size, per client. */
  concurrentBytes: number;
  /** Case 5: the small and the large file. */
  memorySizes: [number, number];
  /** Case 3: seconds per handshake measurement. */
  handshakeSeconds: number;
  /** bench/format.ts bytes per run. */
  formatBytes: number;
}

/** A file in the served root. */
export interface Served {
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** Sparse (all zero, no blocks on disk) rather than random bytes. */
  sparse: boolean;
}

export interface CaseContext {
  plan: Plan;
  peer: PeerContext;
  /** Folder on disk where every client writes its copy. */
  out: string;
  /** Tools that are missing, with the reason. */
  missing: Map<string, string>;
  /** Served files by role. */
  file(role: 'download' | 'concurrent' | 'small' | 'large'): Served;
  log(line: string): void;
}

/** One peer as a download case sees it. */
export interface Contender {
  name: string;
  /** Why it cannot run here, if it cannot. */
  skip?: string | undefined;
  start(): Promise<Server>;
  command(server: Server, file: Served, out: string): Command;
  /** Clients that do not fsync get an fsync after exit, timed into the wall time. */
  fsyncAfter: boolean;
  /** Checks the stored copy beyond its size (securestream: sha256). */
  verify?(t: Timed, file: Served, out: string): Promise<void>;
  /** Expected size of the stored copy (default: the file's size). */
  storedSize?(file: Served): number;
}

export interface Sample {
  wall: number;
  /** Time of the fsync added after a client that does not sync itself (0 for others). */
  fsync: number;
  serverCpu: number;
  serverRss: number;
  clientCpu: number;
  clientRss: number;
}

/** Time for a client moving `bytes`: generous, so only a hang trips it. */
export function clientTimeoutMs(bytes: number): number {
  return 60_000 + (bytes / 5e6) * 1000;
}

/** fsync of a finished file, in seconds. */
export async function fsyncSeconds(path: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const h = await open(path, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(b as Buffer);
  return h.digest('hex');
}

const rehashed = new Set<string>();

/**
 * Verifies a `get` run: the digest it printed (of the bytes it stored, checked against the
 * server's trailer) and, the first time each `label` comes by, the stored file re-read from
 * disk and hashed here.
 */
export async function verifyGet(
  t: Timed,
  expectSha: string,
  out: string,
  label = out,
): Promise<void> {
  const printed = t.stdout.trim().split(/\s+/)[0];
  if (printed !== expectSha) throw new Error(`get printed sha256 ${printed}, want ${expectSha}`);
  if (rehashed.has(label)) return;
  rehashed.add(label);
  const stored = await sha256File(out);
  if (stored !== expectSha) throw new Error(`stored copy has sha256 ${stored}, want ${expectSha}`);
}

/** One download by one contender on a freshly started server. */
export async function measureOnce(
  ctx: CaseContext,
  c: Contender,
  file: Served,
  tag: string,
): Promise<Sample> {
  const out = join(ctx.out, `${tag}.copy`);
  const server = await c.start();
  try {
    const watch = new TreeWatch(server.proc.pid);
    let t: Timed;
    try {
      const cmd = c.command(server, file, out);
      t = await timed(cmd.cmd, cmd.args, {
        timeoutMs: clientTimeoutMs(file.size),
        what: `${c.name} client`,
        scratch: join(ctx.peer.tmp, tag),
      });
    } catch (e) {
      watch.cancel();
      throw e;
    }
    const fsync = t.code === 0 && c.fsyncAfter ? await fsyncSeconds(out) : 0;
    const { cpu, rss } = await watch.finish();
    if (t.code !== 0) {
      throw new Error(`${c.name} client exited ${t.code}: ${t.stderr.trim().slice(0, 300)}`);
    }
    const want = c.storedSize ? c.storedSize(file) : file.size;
    const got = (await fsStat(out)).size;
    if (got !== want) throw new Error(`${c.name}: stored ${got} bytes, want ${want}`);
    await c.verify?.(t, file, out);
    return {
      wall: t.wall + fsync,
      fsync,
      serverCpu: cpu,
      serverRss: rss,
      clientCpu: t.cpu,
      clientRss: t.rss,
    };
  } finally {
    await rm(out, { force: true });
    await server.stop();
  }
}

/** Round-robin order for round `r`, so no contender always goes first on a noisy machine. */
export function rotate<T>(list: T[], r: number): T[] {
  const k = list.length ? r % list.length : 0;
  return [...list.slice(k), ...list.slice(0, k)];
}
