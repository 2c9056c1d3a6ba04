/**
 * Case 4: N clients download the same file at once, N TLS connections on the server. For
 * securestream two client set-ups: N `get` processes (the real CLI; --full only, because on a
 * small machine N node start-ups cost more CPU than the transfers), and a few processes each
 * running several `runGet` at once (bench/fetcher.ts). nginx gets N curl processes. Total
 * time runs from the first spawn to the last exit (plus, for curl, an fsync of every copy,
 * as each `get` fsyncs its own).
 */
import { rm, stat as fsStat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MB,
  TreeWatch,
  figure,
  fmt,
  pairedRatio,
  sizeName,
  timed,
  type Rounds,
} from '../measure.js';
import { fetcherPath } from '../paths.js';
import { nginxGet, startNginx } from '../peers/nginx.js';
import { getCmd, startServe } from '../peers/securestream.js';
import type { Command, Server } from '../peers/types.js';
import {
  clientTimeoutMs,
  fsyncSeconds,
  rotate,
  sha256File,
  type CaseContext,
  type Served,
} from './common.js';

export interface ConcurrentSample {
  total: number;
  fsync: number;
  serverRss: number;
  serverCpu: number;
  /** Sum over all clients. */
  clientCpu: number;
  /** Largest single client. */
  clientRss: number;
}

export interface ConcurrentTrack extends Rounds<ConcurrentSample> {
  name: string;
  skip?: string | undefined;
  errors: string[];
}

/** One client process: its command and the copies it writes. */
interface Launch {
  cmd: Command;
  outs: string[];
}

interface Side {
  name: string;
  skip?: string | undefined;
  start(): Promise<Server>;
  /** The client processes of round `r`, together writing one copy per simulated client. */
  launch(s: Server, f: Served, round: string): Launch[];
  fsyncAfter: boolean;
  /** securestream: each process prints one `sha256  path` line per copy it kept. */
  printsDigests: boolean;
}

async function once(
  ctx: CaseContext,
  side: Side,
  file: Served,
  r: number,
  tag: string,
): Promise<ConcurrentSample> {
  const server = await side.start();
  const watch = new TreeWatch(server.proc.pid);
  const launches = side.launch(server, file, `${tag}-${r}`);
  const outs = launches.flatMap((l) => l.outs);
  try {
    const t0 = process.hrtime.bigint();
    const runs = await Promise.all(
      launches.map((l, i) =>
        timed(l.cmd.cmd, l.cmd.args, {
          timeoutMs: clientTimeoutMs(file.size * outs.length),
          what: `${side.name} client ${i}`,
          scratch: join(ctx.peer.tmp, `c-${tag}-${r}-${i}`),
        }),
      ),
    );
    let fsync = 0;
    if (side.fsyncAfter) for (const out of outs) fsync += await fsyncSeconds(out);
    const total = Number(process.hrtime.bigint() - t0) / 1e9;
    const { cpu, rss } = await watch.finish();
    const bad = runs.findIndex((t) => t.code !== 0);
    if (bad >= 0) {
      throw new Error(
        `client ${bad} exited ${runs[bad]?.code}: ${runs[bad]?.stderr.trim().slice(0, 300)}`,
      );
    }
    for (const out of outs) {
      const got = (await fsStat(out)).size;
      if (got !== file.size) throw new Error(`${out}: ${got} bytes, want ${file.size}`);
    }
    if (side.printsDigests) {
      // Every download checked its digest against the trailer and printed it; check the
      // printed digests and hash one copy here too.
      runs.forEach((t, i) => {
        const lines = t.stdout.trim().split('\n');
        const want = launches[i]?.outs.length ?? 0;
        if (lines.length !== want || lines.some((l) => !l.startsWith(`${file.sha256} `))) {
          throw new Error(`client ${i} printed ${lines.length}/${want} good digests`);
        }
      });
      const one = outs[r % outs.length] ?? '';
      if ((await sha256File(one)) !== file.sha256) throw new Error(`${one}: sha256 differs`);
    }
    return {
      total,
      fsync,
      serverRss: rss,
      serverCpu: cpu,
      clientCpu: runs.reduce((a, t) => a + t.cpu, 0),
      clientRss: Math.max(...runs.map((t) => t.rss)),
    };
  } finally {
    watch.cancel();
    await Promise.all(outs.map((o) => rm(o, { force: true })));
    await server.stop();
  }
}

/** Processes × downloads each for the in-process variant: 50 = 5 × 10. */
function split(n: number): [number, number] {
  const procs = Math.max(1, Math.min(n, Math.round(Math.sqrt(n / 2))));
  return [procs, Math.ceil(n / procs)];
}

export async function caseConcurrent(ctx: CaseContext): Promise<ConcurrentTrack[]> {
  const file = ctx.file('concurrent');
  const p = ctx.peer;
  const n = ctx.plan.concurrentClients;
  const [procs, each] = split(n);
  const copies = (round: string, k: number) =>
    Array.from({ length: k }, (_, j) => join(ctx.out, `c-${round}-${j}.copy`));
  const sides: Side[] = [
    {
      name: `securestream, ${n} get processes`,
      skip: ctx.plan.full ? undefined : `quick mode (${n} node start-ups; --full runs it)`,
      start: () => startServe(p),
      launch: (s, f, r) =>
        copies(r, n).map((out) => ({ cmd: getCmd(p, s.port, f.name, out), outs: [out] })),
      fsyncAfter: false,
      printsDigests: true,
    },
    {
      name: `securestream, ${procs} processes × ${each} runGet`,
      start: () => startServe(p),
      launch: (s, f, r) =>
        Array.from({ length: procs }, (_, i) => {
          const k = Math.min(each, n - i * each);
          const prefix = join(ctx.out, `c-${r}-p${i}`);
          return {
            cmd: {
              cmd: process.execPath,
              args: [fetcherPath(), String(s.port), p.pki.dir, f.name, prefix, String(k)],
            },
            outs: Array.from({ length: k }, (_, j) => `${prefix}-${j}.copy`),
          };
        }).filter((l) => l.outs.length > 0),
      fsyncAfter: false,
      printsDigests: true,
    },
    {
      name: `nginx + ${n} curl`,
      skip: ctx.missing.get('nginx') ?? ctx.missing.get('curl'),
      start: () => startNginx(p),
      launch: (s, f, r) =>
        copies(r, n).map((out) => ({ cmd: nginxGet(p, s.port, f.name, out), outs: [out] })),
      fsyncAfter: true,
      printsDigests: false,
    },
  ];
  ctx.log(`case 4: ${n} clients × ${sizeName(file.size)} at once, ${ctx.plan.runs} rounds`);
  const tracks: ConcurrentTrack[] = sides.map((s) => ({
    name: s.name,
    skip: s.skip,
    rounds: [],
    errors: [],
  }));
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const i of rotate(
      sides.map((_, k) => k),
      r,
    )) {
      const side = sides[i];
      const t = tracks[i];
      if (!side || !t || side.skip) continue;
      try {
        const s = await once(ctx, side, file, r, `s${i}`);
        t.rounds[r] = s;
        ctx.log(
          `concurrent round ${r + 1}: ${side.name} ${s.total.toFixed(1)} s, server peak RSS ${(s.serverRss / MB).toFixed(0)} MB`,
        );
      } catch (e) {
        t.errors.push(`round ${r + 1}: ${e instanceof Error ? e.message : String(e)}`);
        ctx.log(`concurrent round ${r + 1}: ${side.name} FAILED: ${String(e)}`);
      }
    }
  }
  return tracks;
}

const some = (t: ConcurrentTrack) => t.rounds.filter((s): s is ConcurrentSample => s !== undefined);

export function concurrentRows(tracks: ConcurrentTrack[]): string[][] {
  const base = tracks.find((t) => t.name.startsWith('nginx'));
  const rows = [
    [
      'peer',
      'total s',
      '÷ nginx',
      'server peak RSS MB',
      'server CPU s',
      'clients CPU s (sum)',
      'largest client RSS MB',
    ],
  ];
  for (const t of tracks) {
    if (t.skip) {
      rows.push([t.name, `skipped: ${t.skip}`]);
      continue;
    }
    if (some(t).length === 0) {
      rows.push([t.name, `failed: ${t.errors[0] ?? '?'}`]);
      continue;
    }
    rows.push([
      t.name,
      fmt(
        figure(t, (s) => s.total),
        1,
      ),
      base && base !== t && some(base).length
        ? fmt(
            pairedRatio(t, base, (s) => s.total),
            2,
          )
        : '1',
      fmt(figure(t, (s) => s.serverRss / MB)),
      fmt(
        figure(t, (s) => s.serverCpu),
        1,
      ),
      fmt(
        figure(t, (s) => s.clientCpu),
        1,
      ),
      fmt(figure(t, (s) => s.clientRss / MB)),
    ]);
  }
  return rows;
}
