/**
 * Case 1: one large download written to a file on disk, securestream against nginx + curl,
 * OpenSSH (sftp and scp -O) and openssl s_server -WWW + curl, all in the same rounds.
 */
import { GiB, MB, figure, fmt, pairedRatio, sizeName, type Rounds } from '../measure.js';
import { encryptContenders } from './encrypt.js';
import { startNginx, nginxGet, NGINX_NOTES } from '../peers/nginx.js';
import { startSServer, sServerGet } from '../peers/s_server.js';
import { ddCopy, startNoServer } from '../peers/dd.js';
import { getCmd, startServe } from '../peers/securestream.js';
import { scpGet, sftpGet, startSshd, type SshServer } from '../peers/sshd.js';
import {
  measureOnce,
  rotate,
  verifyGet,
  type CaseContext,
  type Contender,
  type Sample,
  type Served,
} from './common.js';

/** Samples of one contender, indexed by round (a failed round stays empty). */
export interface Track extends Rounds<Sample> {
  name: string;
  skip?: string | undefined;
  errors: string[];
}

export function contenders(ctx: CaseContext): Contender[] {
  const miss = (...tools: string[]) => {
    const why = tools.map((t) => ctx.missing.get(t)).filter(Boolean);
    return why.length ? why.join('; ') : undefined;
  };
  const p = ctx.peer;
  return [
    {
      name: 'securestream',
      start: () => startServe(p),
      command: (s, f, out) => getCmd(p, s.port, f.name, out),
      fsyncAfter: false,
      verify: (t, f, out) => verifyGet(t, f.sha256, out, 'plain'),
    },
    {
      name: 'nginx + curl',
      skip: miss('nginx', 'curl'),
      start: () => startNginx(p),
      command: (s, f, out) => nginxGet(p, s.port, f.name, out),
      fsyncAfter: true,
    },
    {
      // A reference, not the target: curl's copy is still in the page cache when timed.
      name: 'nginx + curl, no sync',
      skip: miss('nginx', 'curl'),
      start: () => startNginx(p),
      command: (s, f, out) => nginxGet(p, s.port, f.name, out),
      fsyncAfter: false,
    },
    {
      name: 'dd conv=fsync (disk only)',
      start: () => startNoServer(),
      command: (_s, f, out) => ddCopy(f.path, out),
      fsyncAfter: false,
    },
    {
      name: 's_server -WWW + curl',
      skip: miss('openssl', 'curl'),
      start: () => startSServer(p),
      command: (s, f, out) => sServerGet(p, s.port, f.name, out),
      fsyncAfter: true,
    },
    {
      name: 'sshd + sftp',
      skip: miss('sshd', 'sftp', 'sshKeygen'),
      start: () => startSshd(p),
      command: (s, f, out) => sftpGet(s as SshServer, f.path, out),
      fsyncAfter: true,
    },
    {
      name: 'sshd + scp -O',
      skip: ctx.plan.full
        ? miss('sshd', 'scp', 'sshKeygen')
        : 'quick mode (sftp stands for OpenSSH; --full adds scp)',
      start: () => startSshd(p),
      command: (s, f, out) => scpGet(s as SshServer, f.path, out),
      fsyncAfter: true,
    },
  ];
}

/** Runs `list` for `runs` rounds, in a rotating order; failures are recorded, not fatal. */
export async function rounds(
  ctx: CaseContext,
  list: Contender[],
  file: Served,
  label: string,
): Promise<Track[]> {
  const tracks = list.map((c) => ({
    name: c.name,
    skip: c.skip,
    rounds: [] as (Sample | undefined)[],
    errors: [] as string[],
  }));
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const i of rotate(
      list.map((_, k) => k),
      r,
    )) {
      const c = list[i];
      const t = tracks[i];
      if (!c || !t || c.skip) continue;
      try {
        const s = await measureOnce(ctx, c, file, `${label}-${i}-${r}`);
        t.rounds[r] = s;
        ctx.log(
          `${label} round ${r + 1}: ${c.name} ${(file.size / s.wall / MB).toFixed(0)} MB/s` +
            (s.fsync ? ` (incl. fsync ${s.fsync.toFixed(2)} s)` : ''),
        );
      } catch (e) {
        t.errors.push(`round ${r + 1}: ${e instanceof Error ? e.message : String(e)}`);
        ctx.log(`${label} round ${r + 1}: ${c.name} FAILED: ${t.errors[t.errors.length - 1]}`);
      }
    }
  }
  return tracks;
}

export const mbps = (bytes: number) => (s: Sample) => bytes / s.wall / MB;

/** Table rows for download-like tracks, with ratios against `base`. */
export function downloadRows(tracks: Track[], bytes: number, base: Track | undefined): string[][] {
  const gib = bytes / GiB;
  const rows = [
    [
      'peer',
      'MB/s',
      `÷ ${base?.name ?? 'base'}`,
      'server CPU s/GiB',
      'client CPU s/GiB',
      'server peak RSS MB',
      'client peak RSS MB',
    ],
  ];
  for (const t of tracks) {
    if (t.skip) {
      rows.push([t.name, `skipped: ${t.skip}`]);
      continue;
    }
    if (t.rounds.every((s) => !s)) {
      rows.push([t.name, `failed: ${t.errors[0] ?? '?'}`]);
      continue;
    }
    rows.push([
      t.name,
      fmt(figure(t, mbps(bytes))),
      base && base !== t ? fmt(pairedRatio(t, base, mbps(bytes)), 2) : '1',
      fmt(
        figure(t, (s) => s.serverCpu / gib),
        2,
      ),
      fmt(
        figure(t, (s) => s.clientCpu / gib),
        2,
      ),
      fmt(figure(t, (s) => s.serverRss / MB)),
      fmt(figure(t, (s) => s.clientRss / MB)),
    ]);
  }
  return rows;
}

export interface DownloadResult {
  file: { size: number; sparse: boolean };
  notes: string[];
  tracks: Track[];
}

/**
 * Cases 1 and 2 in one set of rounds, so plain securestream is measured once per round and
 * serves as both case 1's entry and case 2's baseline.
 */
export async function caseDownloads(
  ctx: CaseContext,
  which: { download: boolean; encrypt: boolean },
): Promise<{ download?: DownloadResult; encrypt?: DownloadResult }> {
  const file = ctx.file('download');
  const base = contenders(ctx);
  const plain = which.download ? base : base.slice(0, 1);
  const enc = which.encrypt ? encryptContenders(ctx) : { list: [], notes: [] };
  ctx.log(
    `cases ${[which.download && '1', which.encrypt && '2'].filter(Boolean).join(' and ')}: ` +
      `${sizeName(file.size)} downloads, ${ctx.plan.runs} rounds`,
  );
  const tracks = await rounds(ctx, [...plain, ...enc.list], file, 'dl');
  const f = { size: file.size, sparse: file.sparse };
  const ss = tracks[0];
  const dd = tracks.find((t) => t.name.startsWith('dd '));
  const vsDisk =
    ss && dd && which.download
      ? [
          `securestream get ÷ dd conv=fsync of the same file, same rounds (time over time): ${fmt(pairedRatio(dd, ss, mbps(file.size)), 2)}`,
        ]
      : [];
  return {
    ...(which.download
      ? {
          download: {
            file: f,
            notes: [
              `nginx: ${NGINX_NOTES}`,
              'curl, sftp and scp do not fsync; their copy is fsynced after exit and that time is in MB/s, as securestream get fsyncs before its rename',
              'securestream get figures include its node start-up (the real CLI, one process per download)',
              ...vsDisk,
            ],
            tracks: tracks.slice(0, plain.length),
          },
        }
      : {}),
    ...(which.encrypt && ss
      ? {
          encrypt: {
            file: f,
            notes: enc.notes,
            tracks: [{ ...ss, name: 'securestream plain' }, ...tracks.slice(plain.length)],
          },
        }
      : {}),
  };
}
