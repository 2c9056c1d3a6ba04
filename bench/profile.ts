/**
 * CPU profiles of `serve` and `get` (node --cpu-prof) and their top self-time functions.
 *   node dist/bench/profile.js [download|encrypt|decrypt|handshake|startup] [--size 1GiB]
 *        [--seconds 5] [--keep DIR] [--tmp /var/tmp]
 * download: one file of --size, served and fetched with both sides profiled; encrypt/decrypt
 * the same with `serve --encrypt` (and `get --decrypt`); handshake: the server under
 * `openssl s_time -new` for --seconds; startup: `get` of a 1-byte file (node start-up).
 * Profiles go to a temporary folder, or to --keep DIR to open them in a profiler.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MB, timed } from './measure.js';
import { cliPath, snapshotBuild } from './paths.js';
import { makePki } from './pki.js';
import { getCmd, startServe } from './peers/securestream.js';
import { sTimeCmd } from './peers/s_time.js';
import type { PeerContext } from './peers/types.js';
import { cleanup, cleanupOnExit, sleep, tempDir } from './procs.js';
import { parseSize } from '../src/config.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time per function (name + file:line), in ms, largest first. */
export function selfTimes(p: Profile): { name: string; ms: number; share: number }[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const total = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    if (!f) return;
    const where = f.url
      ? ` ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    total.set(key, (total.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const all = (p.endTime - p.startTime) / 1000;
  return [...total.entries()]
    .map(([name, ms]) => ({ name, ms, share: ms / all }))
    .sort((a, b) => b.ms - a.ms);
}

function report(title: string, dir: string, top: number): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const lines: string[] = [];
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    const wall = (p.endTime - p.startTime) / 1e6;
    lines.push(`${title} (${f}), ${wall.toFixed(2)} s profiled:`);
    for (const t of selfTimes(p).slice(0, top)) {
      lines.push(
        `  ${t.ms.toFixed(0).padStart(7)} ms ${(100 * t.share).toFixed(1).padStart(5)} %  ${t.name}`,
      );
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mode = argv[0] && !argv[0].startsWith('--') ? argv.shift() : 'download';
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = parseSize(flag('--size') ?? '1GiB');
  const seconds = Number(flag('--seconds') ?? 5);
  const top = Number(flag('--top') ?? 15);
  const keep = flag('--keep');
  cleanupOnExit();
  const scratch = tempDir(flag('--tmp') ?? '/var/tmp', 'securestream-profile-');
  snapshotBuild(join(scratch, 'app'));
  const root = join(scratch, 'root');
  const tmp = join(scratch, 'tmp');
  const prof = { server: join(scratch, 'prof-server'), client: join(scratch, 'prof-client') };
  for (const d of [root, tmp, prof.server, prof.client]) mkdirSync(d, { recursive: true });
  const ctx: PeerContext = { tmp, root, pki: await makePki(scratch) };
  const bytes = mode === 'startup' ? 1 : size;
  if (mode !== 'handshake') {
    const r = spawnSync(process.execPath, [
      cliPath(),
      'payload',
      join(root, 'f'),
      '--size',
      String(bytes),
    ]);
    if (r.status !== 0) throw new Error(`payload failed: ${String(r.stderr)}`);
  }
  const server = await startServe(ctx, {
    encrypt: mode === 'encrypt' || mode === 'decrypt',
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', prof.server],
  });
  try {
    if (mode === 'handshake') {
      const st = sTimeCmd(ctx.pki, server.port, seconds);
      const t = await timed(st.cmd, st.args, {
        timeoutMs: (seconds + 30) * 1000,
        what: 's_time',
        scratch: join(tmp, 's_time'),
      });
      process.stdout.write(`${t.stdout.trim().split('\n').slice(-2).join('\n')}\n`);
    } else {
      const cmd = getCmd(ctx, server.port, 'f', join(scratch, 'copy'), {
        decrypt: mode === 'decrypt',
        nodeArgs: ['--cpu-prof', '--cpu-prof-dir', prof.client],
      });
      const t = await timed(cmd.cmd, cmd.args, {
        timeoutMs: 60_000 + (bytes / 5e6) * 1000,
        what: 'get',
        scratch: join(tmp, 'get'),
      });
      if (t.code !== 0) throw new Error(`get failed: ${t.stderr}`);
      process.stdout.write(
        `get: ${bytes} bytes in ${t.wall.toFixed(2)} s (${(bytes / t.wall / MB).toFixed(0)} MB/s), ` +
          `client CPU ${t.cpu.toFixed(2)} s, peak RSS ${(t.rss / MB).toFixed(0)} MB\n`,
      );
    }
  } finally {
    // serve writes its profile when it exits on its own: SIGTERM lets transfers finish, a
    // second SIGTERM closes what is left (half-closed handshake-only connections, say).
    process.kill(server.proc.pid, 'SIGTERM');
    const exited = await Promise.race([server.proc.exited.then(() => true), sleep(2000)]);
    if (!exited) process.kill(server.proc.pid, 'SIGTERM');
    await Promise.race([server.proc.exited, sleep(10_000)]);
    await server.stop();
  }
  const lines = [
    ...report(`server (${mode})`, prof.server, top),
    ...(mode === 'handshake' ? [] : report(`client (${mode})`, prof.client, top)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (keep) {
    mkdirSync(keep, { recursive: true });
    cpSync(prof.server, join(keep, `server-${mode}`), { recursive: true });
    if (mode !== 'handshake')
      cpSync(prof.client, join(keep, `client-${mode}`), { recursive: true });
    process.stdout.write(`profiles copied to ${keep}\n`);
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`profile: error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}
