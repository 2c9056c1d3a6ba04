/**
 * Case 7: HTTP on securestream's port against nginx (`ssl_verify_client on`), with curl as the
 * client of both, HTTP/1.1 and the same suite and certificates:
 *  (a) one large download. securestream is measured warm (the file's SHA-256 already known,
 *      as on a server that has served it once) and cold (a fresh server: the first request of
 *      a version reads the whole file for its digest before the headers, docs/PROTOCOL.md);
 *  (b) 1,000 files of 1 KiB by one curl process over one kept-alive connection, client start
 *      and handshake included, after one warm-up pass.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS } from '../env.js';
import { TreeWatch, figure, fmt, pairedRatio, timed } from '../measure.js';
import { curlGet, curlTlsArgs } from '../peers/curl.js';
import { NGINX_NOTES, startNginx } from '../peers/nginx.js';
import { startServe } from '../peers/securestream.js';
import type { PeerContext, Server } from '../peers/types.js';
import { rotate, type CaseContext, type Contender, type Served } from './common.js';
import { rounds, type Track } from './download.js';

/** Folder (under the served root) of the many-small-files part, and its file count and size. */
export const SMALL_DIR = 'small1k';
export const SMALL_COUNT = 1000;
export const SMALL_BYTES = 1024;

/** A HEAD request: on securestream it makes the server hash the file, as a first request does. */
function warm(p: PeerContext, port: number, path: string): void {
  const r = spawnSync(
    TOOLS.curl.path,
    [...curlTlsArgs(p.pki), '-I', '-o', '/dev/null', `https://127.0.0.1:${port}/${path}`],
    {
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  if (r.status !== 0) throw new Error(`warm-up HEAD of ${path} failed: ${r.stderr}`);
}

export function httpDownloadContenders(ctx: CaseContext, file: Served): Contender[] {
  const p = ctx.peer;
  const nginxMissing = ['nginx', 'curl'].map((t) => ctx.missing.get(t as 'nginx')).filter(Boolean);
  const get = (s: Server, f: Served, out: string) => curlGet(p.pki, s.port, f.name, out);
  return [
    {
      name: 'securestream HTTP, warm',
      skip: ctx.missing.get('curl'),
      start: async () => {
        const s = await startServe(p, { log: 'serve-http.log' });
        warm(p, s.port, file.name);
        return s;
      },
      command: get,
      fsyncAfter: true,
    },
    {
      name: 'nginx',
      skip: nginxMissing.length ? nginxMissing.join('; ') : undefined,
      start: () => startNginx(p),
      command: get,
      fsyncAfter: true,
    },
    {
      name: 'securestream HTTP, cold',
      skip: ctx.missing.get('curl'),
      start: () => startServe(p, { log: 'serve-http.log' }),
      command: get,
      fsyncAfter: true,
    },
  ];
}

/** One round of the many-small-files part. */
export interface ManySample {
  wall: number;
  serverCpu: number;
  requests: number;
}

export interface ManyTrack {
  name: string;
  skip?: string | undefined;
  rounds: (ManySample | undefined)[];
  errors: string[];
}

/** Writes the 1,000 small files under the root (once). */
export function prepareSmallFiles(root: string): void {
  const dir = join(root, SMALL_DIR);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < SMALL_COUNT; i++) {
    const bytes = Buffer.alloc(SMALL_BYTES);
    for (let k = 0; k < SMALL_BYTES; k++) bytes[k] = (i * 31 + k * 7) & 0xff;
    writeFileSync(join(dir, smallName(i)), bytes);
  }
}

function smallName(i: number): string {
  return `f${String(i).padStart(4, '0')}`;
}

/** A curl config asking for every small file into `out`, in one process and connection. */
function curlConfig(p: PeerContext, port: number, out: string, path: string): void {
  const lines = curlTlsArgs(p.pki).map((a) => (a.startsWith('-') ? a : `"${a}"`));
  const config: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const a = lines[i] ?? '';
    const next = lines[i + 1];
    if (next !== undefined && !next.startsWith('-')) {
      config.push(`${a} ${next}`);
      i++;
    } else config.push(a);
  }
  for (let i = 0; i < SMALL_COUNT; i++) {
    config.push(`url = "https://127.0.0.1:${port}/${SMALL_DIR}/${smallName(i)}"`);
    config.push(`output = "${join(out, smallName(i))}"`);
  }
  writeFileSync(path, `${config.join('\n')}\n`);
}

async function manyOnce(
  ctx: CaseContext,
  start: () => Promise<Server>,
  tag: string,
): Promise<ManySample> {
  const p = ctx.peer;
  const server = await start();
  const out = join(ctx.out, tag);
  const conf = join(p.tmp, `${tag}.curlrc`);
  try {
    const fetchAll = async (what: string) => {
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      curlConfig(p, server.port, out, conf);
      const t = await timed(TOOLS.curl.path, ['-q', '-K', conf], {
        timeoutMs: 300_000,
        what,
        scratch: join(p.tmp, tag),
      });
      if (t.code !== 0) throw new Error(`${what} exited ${t.code}: ${t.stderr.slice(0, 300)}`);
      const got = readdirSync(out);
      if (got.length !== SMALL_COUNT) throw new Error(`${what}: ${got.length} files stored`);
      for (const f of got) {
        const size = statSync(join(out, f)).size;
        if (size !== SMALL_BYTES) throw new Error(`${what}: ${f} has ${size} bytes`);
      }
      return t;
    };
    await fetchAll('warm-up');
    const watch = new TreeWatch(server.proc.pid);
    const t = await fetchAll('measured');
    const { cpu } = await watch.finish(0);
    return { wall: t.wall, serverCpu: cpu, requests: SMALL_COUNT };
  } finally {
    rmSync(out, { recursive: true, force: true });
    await server.stop();
  }
}

export async function caseHttp(ctx: CaseContext): Promise<{
  download: { file: { size: number }; tracks: Track[]; notes: string[] };
  many: ManyTrack[];
}> {
  const file = ctx.file('download');
  ctx.log(
    `case 7: HTTP, ${file.size} bytes and ${SMALL_COUNT} × ${SMALL_BYTES} B, ${ctx.plan.runs} rounds`,
  );
  const tracks = await rounds(ctx, httpDownloadContenders(ctx, file), file, 'http');
  const p = ctx.peer;
  const nginxSkip = ctx.missing.get('nginx');
  const many: ManyTrack[] = [
    { name: 'securestream HTTP', rounds: [], errors: [] },
    { name: 'nginx', skip: nginxSkip, rounds: [], errors: [] },
  ];
  const starts = [() => startServe(p, { log: 'serve-http.log' }), () => startNginx(p)];
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const i of rotate([0, 1], r)) {
      const t = many[i];
      const go = starts[i];
      if (!t || !go || t.skip) continue;
      try {
        const s = await manyOnce(ctx, go, `many-${i}-${r}`);
        t.rounds[r] = s;
        ctx.log(`many round ${r + 1}: ${t.name} ${(s.requests / s.wall).toFixed(0)} requests/s`);
      } catch (e) {
        t.errors.push(`round ${r + 1}: ${e instanceof Error ? e.message : String(e)}`);
        ctx.log(`many round ${r + 1}: ${t.name} FAILED: ${t.errors[t.errors.length - 1]}`);
      }
    }
  }
  return {
    download: {
      file: { size: file.size },
      tracks,
      notes: [
        `nginx: ${NGINX_NOTES}`,
        'curl --http1.1 for both; curl does not fsync, so every copy is fsynced after exit and that time is in MB/s',
        'warm: a HEAD request before the measured download lets the server learn the digest, as any earlier request would; cold: a fresh server hashes the file before the headers',
      ],
    },
    many,
  };
}

/** Requests per second of a round. */
export const rps = (s: ManySample): number => s.requests / s.wall;

export function manyRows(tracks: ManyTrack[]): string[][] {
  const base = tracks.find((t) => t.name === 'nginx');
  const rows = [['server', 'requests/s', '÷ nginx', 'server CPU ms per 1,000 requests']];
  for (const t of tracks) {
    if (t.skip) {
      rows.push([t.name, `skipped: ${t.skip}`]);
      continue;
    }
    rows.push([
      t.name,
      fmt(figure(t, rps)),
      base && base !== t && !base.skip ? fmt(pairedRatio(t, base, rps), 2) : '1',
      fmt(figure(t, (s) => (s.serverCpu * 1000 * 1000) / s.requests)),
    ]);
  }
  return rows;
}
