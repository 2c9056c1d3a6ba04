/**
 * Case 8 (many): many files in one `get`, and a resumed download, each side by side in one run:
 *  (a) 1,000 files of 1 KiB in one command: `get --from LIST` against one curl process fetching
 *      the same 1,000 URLs from nginx over one kept-alive connection (`curl --config`), both
 *      including the client's start;
 *  (b) 100 files of 10 MiB: `get --from LIST` against `curl --parallel` from nginx;
 *  (c) a 1 GiB file cut at 50 %: `get --continue` from a kept half against a full `get`, on
 *      the same running server.
 * Both servers run for the whole case and serve a warm-up pass first (securestream then knows
 * each file's digest, as a server in service does). `get` fsyncs every file; curl does not, so
 * its copies get one `sync -f` (syncfs) of the output folder after exit, timed in, as case 1
 * fsyncs curl's copy; the figures without it are shown too.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  openSync,
  closeSync,
  fsyncSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TOOLS } from '../env.js';
import { MB, MiB, GiB, fmt, stat, timed, type Stat, type Timed } from '../measure.js';
import { startNginx } from '../peers/nginx.js';
import { startServe } from '../peers/securestream.js';
import { curlTlsArgs } from '../peers/curl.js';
import { cliPath } from '../paths.js';
import type { Server } from '../peers/types.js';
import { rotate, sha256File, type CaseContext } from './common.js';

export const SMALL = { dir: 'many-1k', count: 1000, bytes: 1024 } as const;
export const LARGE = { dir: 'many-10m', count: 100, bytes: 10 * MiB } as const;
export const RESUME = { name: 'resume-1g.bin', bytes: GiB } as const;

/** One measured client run: wall seconds (client start to exit, plus a sync where there is one). */
interface Run {
  wall: number;
  /** The sync after a client that does not sync itself, in seconds (0 for get). */
  sync: number;
  cpu: number;
}

export interface ManyTrack {
  name: string;
  skip?: string | undefined;
  rounds: (Run | undefined)[];
  errors: string[];
}

export interface ManyPart {
  title: string;
  /** 1-minute load averages read before each round. */
  loads: number[];
  tracks: ManyTrack[];
  notes: string[];
}

export interface ManyResult {
  small?: ManyPart;
  large?: ManyPart;
  resume?: ManyPart;
}

/** The parts of case 8, in the order they run (`--parts` picks some). */
export const MANY_PARTS = ['small', 'large', 'resume'] as const;
export type ManyPartName = (typeof MANY_PARTS)[number];

interface Entrant {
  name: string;
  skip?: string | undefined;
  /** Runs once: fresh output folder `out`, returns the timed run. */
  run(out: string, tag: string): Promise<Run>;
}

/** Served files of one part: names relative to the root, and the SHA-256 of each by basename. */
interface FileSet {
  names: string[];
  sha: Map<string, string>;
}

/** Writes `count` random files of `bytes` under root/dir. */
function makeFiles(root: string, dir: string, count: number, bytes: number): FileSet {
  mkdirSync(join(root, dir), { recursive: true });
  const set: FileSet = { names: [], sha: new Map() };
  for (let i = 0; i < count; i++) {
    const base = `f${String(i).padStart(4, '0')}.bin`;
    const fd = openSync(join(root, dir, base), 'w');
    const h = createHash('sha256');
    for (let left = bytes; left > 0; left -= MiB) {
      const b = randomBytes(Math.min(MiB, left));
      h.update(b);
      writeSync(fd, b);
    }
    closeSync(fd);
    set.names.push(`${dir}/${base}`);
    set.sha.set(base, h.digest('hex'));
  }
  return set;
}

/** A curl config naming every URL and its output file: one process, one kept-alive connection. */
function curlConfig(path: string, port: number, names: string[], out: string): void {
  writeFileSync(
    path,
    names
      .map((n, i) => `url = "https://127.0.0.1:${port}/${n}"\noutput = "${join(out, `c${i}`)}"\n`)
      .join(''),
  );
}

/** syncfs(2) of the file system holding `dir`, as `sync -f`; seconds taken. */
function syncFolder(dir: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sync', ['-f', dir]);
  if (r.status !== 0) throw new Error(`sync -f ${dir} failed`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function runTimed(
  ctx: CaseContext,
  cmd: string,
  args: string[],
  tag: string,
  what: string,
): Promise<Timed> {
  const t = await timed(cmd, args, { timeoutMs: 600_000, what, scratch: join(ctx.peer.tmp, tag) });
  if (t.code !== 0) throw new Error(`${what} exited ${t.code}: ${t.stderr.trim().slice(0, 300)}`);
  return t;
}

/** `get --from LIST --out OUT` as the bench runs it; every printed line checked later. */
function getArgs(ctx: CaseContext, port: number, extra: string[]): string[] {
  return [
    cliPath(),
    'get',
    '--server',
    `127.0.0.1:${port}`,
    '--pki',
    ctx.peer.pki.dir,
    '--quiet',
    ...extra,
  ];
}

/** Checks that `get` printed one `sha256sum` line per file, each with the served file's digest. */
function checkLines(t: Timed, files: FileSet): void {
  const lines = t.stdout.trim().split('\n');
  if (lines.length !== files.names.length) {
    throw new Error(`get printed ${lines.length} lines, want ${files.names.length}`);
  }
  for (const l of lines) {
    const base = l.slice(66).split('/').pop() ?? '';
    if (files.sha.get(base) !== l.slice(0, 64)) throw new Error(`wrong digest line: ${l}`);
  }
}

function manyEntrants(
  ctx: CaseContext,
  files: FileSet,
  ss: Server,
  ng: Server | undefined,
  parallel: boolean,
  label: string,
): Entrant[] {
  const { names } = files;
  const list = join(ctx.peer.tmp, `${label}.list`);
  writeFileSync(list, `${names.join('\n')}\n`);
  const curlSkip = ng
    ? undefined
    : (ctx.missing.get('nginx') ?? ctx.missing.get('curl') ?? 'no nginx');
  const curl = async (out: string, tag: string, sync: boolean): Promise<Run> => {
    if (!ng) throw new Error('no nginx');
    const cfg = join(ctx.peer.tmp, `${tag}.curl`);
    curlConfig(cfg, ng.port, names, out);
    const args = [
      ...curlTlsArgs(ctx.peer.pki),
      ...(parallel ? ['--parallel', '--parallel-max', '50'] : []),
      '--config',
      cfg,
    ];
    const t = await runTimed(ctx, TOOLS.curl.path, args, tag, 'curl');
    const s = sync ? syncFolder(out) : 0;
    return { wall: t.wall + s, sync: s, cpu: t.cpu };
  };
  return [
    {
      name: 'securestream get',
      run: async (out, tag) => {
        const t = await runTimed(
          ctx,
          process.execPath,
          getArgs(ctx, ss.port, ['--from', list, '--out', out]),
          tag,
          'securestream get',
        );
        checkLines(t, files);
        return { wall: t.wall, sync: 0, cpu: t.cpu };
      },
    },
    {
      name: `nginx + curl${parallel ? ' --parallel' : ''} + sync -f`,
      skip: curlSkip,
      run: (out, tag) => curl(out, tag, true),
    },
    {
      name: `nginx + curl${parallel ? ' --parallel' : ''}, no sync`,
      skip: curlSkip,
      run: (out, tag) => curl(out, tag, false),
    },
  ];
}

async function measure(
  ctx: CaseContext,
  title: string,
  list: Entrant[],
  label: string,
  notes: string[],
): Promise<ManyPart> {
  const tracks: ManyTrack[] = list.map((e) => ({
    name: e.name,
    skip: e.skip,
    rounds: [],
    errors: [],
  }));
  const loads: number[] = [];
  for (let r = 0; r < ctx.plan.runs; r++) {
    loads.push(loadavg()[0] ?? NaN);
    for (const i of rotate(
      list.map((_, k) => k),
      r,
    )) {
      const e = list[i];
      const t = tracks[i];
      if (!e || !t || e.skip) continue;
      const out = join(ctx.out, `${label}-${i}-${r}`);
      mkdirSync(out, { recursive: true });
      try {
        const run = await e.run(out, `${label}-${i}-${r}`);
        t.rounds[r] = run;
        ctx.log(`${label} round ${r + 1}: ${e.name} ${run.wall.toFixed(2)} s`);
      } catch (err) {
        t.errors.push(`round ${r + 1}: ${err instanceof Error ? err.message : String(err)}`);
        ctx.log(
          `${label} round ${r + 1}: ${e.name} FAILED: ${t.errors[t.errors.length - 1] ?? ''}`,
        );
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
  }
  return { title, loads, tracks, notes };
}

/** The kept half of the resume file: `.NAME.partial` (synced) and its record, as `get` keeps them. */
function keepHalf(src: string, out: string, sha: string): void {
  const half = RESUME.bytes / 2;
  const data = join(out, `.${RESUME.name}.partial`);
  const r = spawnSync('dd', [
    `if=${src}`,
    `of=${data}`,
    'bs=1M',
    `count=${half / MiB}`,
    'conv=fsync',
    'status=none',
  ]);
  if (r.status !== 0) throw new Error(`dd failed: ${r.stderr.toString()}`);
  const record = {
    format: 'securestream-partial/1',
    name: RESUME.name,
    output: RESUME.name,
    etag: `"sha256-${sha}"`,
    length: RESUME.bytes,
    bytes: half,
  };
  const fd = openSync(join(out, `.${RESUME.name}.partial.json`), 'w', 0o600);
  writeSync(fd, JSON.stringify(record));
  fsyncSync(fd);
  closeSync(fd);
}

async function resumePart(ctx: CaseContext, ss: Server): Promise<ManyPart> {
  const src = join(ctx.peer.root, RESUME.name);
  const made = spawnSync(
    process.execPath,
    [cliPath(), 'payload', src, '--size', String(RESUME.bytes)],
    {
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  const sha = /^([0-9a-f]{64})\s/.exec(made.stdout)?.[1];
  if (made.status !== 0 || !sha) throw new Error(`payload failed: ${made.stderr}`);
  const get = async (out: string, tag: string, extra: string[]): Promise<Run> => {
    const t = await runTimed(
      ctx,
      process.execPath,
      getArgs(ctx, ss.port, [RESUME.name, '--out', `${out}/`, ...extra]),
      tag,
      'securestream get',
    );
    if (!t.stdout.startsWith(sha))
      throw new Error(`get printed ${t.stdout.slice(0, 64)}, want ${sha}`);
    if ((await sha256File(join(out, RESUME.name))) !== sha) throw new Error('stored copy differs');
    return { wall: t.wall, sync: 0, cpu: t.cpu };
  };
  // Warm-up: the server learns the file's digest, as after its first response.
  const warm = join(ctx.out, 'resume-warm');
  mkdirSync(warm, { recursive: true });
  await get(warm, 'resume-warm', []);
  rmSync(warm, { recursive: true, force: true });
  return measure(
    ctx,
    `(c) ${RESUME.bytes / GiB} GiB file cut at 50 %: get --continue from the kept half against a full get`,
    [
      { name: 'get (full)', run: (out, tag) => get(out, tag, []) },
      {
        name: 'get --continue (from 50 %)',
        run: (out, tag) => {
          keepHalf(src, out, sha);
          return get(out, tag, ['--continue']);
        },
      },
    ],
    'resume',
    [
      'the kept half is written and fsynced before the clock starts, as get --keep-partial leaves it; the resumed get re-reads and hashes it, then fetches the rest with Range/If-Range',
    ],
  );
}

export async function caseMany(
  ctx: CaseContext,
  parts: ReadonlySet<ManyPartName> = new Set(MANY_PARTS),
): Promise<ManyResult> {
  const root = ctx.peer.root;
  ctx.log(
    `case 8: ${SMALL.count} × ${SMALL.bytes} B, ${LARGE.count} × ${LARGE.bytes / MiB} MiB, ${RESUME.bytes / GiB} GiB resume`,
  );
  const small = makeFiles(root, SMALL.dir, SMALL.count, SMALL.bytes);
  const large = makeFiles(root, LARGE.dir, LARGE.count, LARGE.bytes);
  const ss = await startServe(ctx.peer, { log: 'serve-many.log' });
  const nginxMissing = ctx.missing.get('nginx') ?? ctx.missing.get('curl');
  const ng = nginxMissing ? undefined : await startNginx(ctx.peer);
  try {
    const result: ManyResult = {};
    // Warm-up pass on both: digests known, files in the page cache.
    for (const [{ names }, label] of [
      [small, 'small'],
      [large, 'large'],
    ] as const) {
      if (!parts.has(label)) continue;
      const out = join(ctx.out, `warm-${label}`);
      mkdirSync(out, { recursive: true });
      const list = join(ctx.peer.tmp, `warm-${label}.list`);
      writeFileSync(list, `${names.join('\n')}\n`);
      await runTimed(
        ctx,
        process.execPath,
        getArgs(ctx, ss.port, ['--from', list, '--out', out]),
        `warm-${label}`,
        'warm-up get',
      );
      rmSync(out, { recursive: true, force: true });
    }
    if (parts.has('small')) {
      result.small = await measure(
        ctx,
        `(a) ${SMALL.count} files of ${SMALL.bytes} B in one command`,
        manyEntrants(ctx, small, ss, ng, false, 'small'),
        'small',
        ['curl: one process, the 1,000 URLs from a --config file, one kept-alive connection'],
      );
    }
    if (parts.has('large')) {
      result.large = await measure(
        ctx,
        `(b) ${LARGE.count} files of ${LARGE.bytes / MiB} MiB in one command`,
        manyEntrants(ctx, large, ss, ng, true, 'large'),
        'large',
        ['curl --parallel --parallel-max 50 (its default): up to 50 connections at once'],
      );
    }
    if (parts.has('resume')) result.resume = await resumePart(ctx, ss);
    return result;
  } finally {
    await ss.stop();
    await ng?.stop();
    rmSync(join(root, SMALL.dir), { recursive: true, force: true });
    rmSync(join(root, LARGE.dir), { recursive: true, force: true });
    rmSync(join(root, RESUME.name), { force: true });
  }
}

/** Per-round ratios a over b of wall time, rounds where both ran. */
export function wallRatio(a: ManyTrack, b: ManyTrack): Stat {
  const out: number[] = [];
  a.rounds.forEach((s, r) => {
    const o = b.rounds[r];
    if (s && o) out.push(s.wall / o.wall);
  });
  return stat(out);
}

/** Table rows of one part: wall time, its ratio to the durable curl (or the first), a rate. */
export function manyRows(part: ManyPart, bytes: number, files: number): string[][] {
  const base =
    part.tracks.find((t) => t.name.startsWith('nginx') && t.name.includes('sync -f')) ??
    part.tracks[0];
  const perFile = files > 1 && bytes / files < MB;
  const rows = [
    ['client', 'wall s', `÷ ${base?.name ?? '?'}`, perFile ? 'files/s' : 'MB/s', 'client CPU s'],
  ];
  for (const t of part.tracks) {
    if (t.skip) {
      rows.push([t.name, `skipped: ${t.skip}`]);
      continue;
    }
    const runs = t.rounds.filter((r): r is Run => r !== undefined);
    if (runs.length === 0) {
      rows.push([t.name, `failed: ${t.errors[0] ?? '?'}`]);
      continue;
    }
    rows.push([
      t.name,
      fmt(stat(runs.map((r) => r.wall)), 2),
      base && base !== t ? fmt(wallRatio(t, base), 2) : '1',
      fmt(stat(runs.map((r) => (perFile ? files : bytes / MB) / r.wall)), 0),
      fmt(stat(runs.map((r) => r.cpu)), 2),
    ]);
  }
  return rows;
}

export function loadNote(part: ManyPart): string {
  return `load average (1 min) before each round: ${part.loads.map((l) => l.toFixed(2)).join(', ')}`;
}
