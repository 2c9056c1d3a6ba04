/**
 * Case 3: full mutual-TLS handshakes per second, no resumption, against securestream and
 * nginx (one worker), with two clients: `openssl s_time -new` (sends nothing after the
 * handshake when no -www is given, then closes) and the node:tls loop of bench/handshake.ts.
 * Server CPU per handshake comes from the server tree's CPU time over the measurement. A bare
 * node:tls server with the same TLS options is measured too: the floor for any node server.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TreeWatch, figure, fmt, pairedRatio, timed, type Rounds } from '../measure.js';
import { handshakePath } from '../paths.js';
import { startBare } from '../peers/bare.js';
import { startNginx } from '../peers/nginx.js';
import { startServe } from '../peers/securestream.js';
import { sTimeCmd } from '../peers/s_time.js';
import type { Server } from '../peers/types.js';
import { rotate, type CaseContext } from './common.js';

export interface HandshakeSample {
  perSecond: number;
  handshakes: number;
  seconds: number;
  serverCpuMs: number;
  /** securestream only: connections the server logged, to check the client's count. */
  serverLogged?: number;
}

export interface HandshakeTrack extends Rounds<HandshakeSample> {
  server: string;
  client: string;
  skip?: string | undefined;
  errors: string[];
}

/** Handshakes per second of a sample. */
export const perSecond = (s: HandshakeSample): number => s.perSecond;

async function loggedConnections(server: Server): Promise<number> {
  if (!server.log) return 0;
  const text = await readFile(server.log, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.includes('"msg":"connection"')).length;
}

type Client = 's_time' | 'node:tls loop';

async function measure(
  ctx: CaseContext,
  server: Server,
  client: Client,
  tag: string,
): Promise<HandshakeSample> {
  const { pki } = ctx.peer;
  const secs = ctx.plan.handshakeSeconds;
  const before = await loggedConnections(server);
  const watch = new TreeWatch(server.proc.pid, 500);
  const args =
    client === 's_time'
      ? sTimeCmd(pki, server.port, secs)
      : {
          cmd: process.execPath,
          args: [
            handshakePath(),
            String(server.port),
            pki.ca,
            pki.clientCert,
            pki.clientKey,
            String(secs),
          ],
        };
  const t = await timed(args.cmd, args.args, {
    timeoutMs: (secs + 30) * 1000,
    what: client,
    scratch: join(ctx.peer.tmp, tag),
  });
  const { cpu } = await watch.finish(500);
  if (t.code !== 0) throw new Error(`${client} exited ${t.code}: ${t.stderr.trim().slice(0, 300)}`);
  let handshakes: number;
  let seconds: number;
  if (client === 's_time') {
    // "N connections in T real seconds": T is whole seconds, so time the run here instead.
    const m = /(\d+) connections in [\d.]+s/.exec(t.stdout);
    if (!m?.[1]) throw new Error(`s_time printed no count: ${t.stdout.slice(0, 300)}`);
    handshakes = Number(m[1]);
    seconds = t.wall;
  } else {
    const r = JSON.parse(t.stdout) as { handshakes: number; errors: number; seconds: number };
    if (r.errors > 0) throw new Error(`node:tls loop: ${r.errors} failed handshakes`);
    handshakes = r.handshakes;
    seconds = r.seconds;
  }
  if (handshakes === 0) throw new Error(`${client}: no handshake completed`);
  const sample: HandshakeSample = {
    perSecond: handshakes / seconds,
    handshakes,
    seconds,
    serverCpuMs: (cpu * 1000) / handshakes,
  };
  if (server.log) {
    // The server logs each connection when it closes; give the last ones a moment.
    await new Promise((r) => setTimeout(r, 300));
    sample.serverLogged = (await loggedConnections(server)) - before;
  }
  return sample;
}

export async function caseHandshakes(ctx: CaseContext): Promise<HandshakeTrack[]> {
  const servers: { name: string; skip?: string | undefined; start: () => Promise<Server> }[] = [
    { name: 'securestream', start: () => startServe(ctx.peer) },
    { name: 'nginx', skip: ctx.missing.get('nginx'), start: () => startNginx(ctx.peer) },
    { name: 'bare node:tls', start: () => startBare(ctx.peer) },
  ];
  const clients: Client[] = ['s_time', 'node:tls loop'];
  const tracks: HandshakeTrack[] = [];
  for (const client of clients) {
    for (const s of servers) {
      // The bare server is a reference; in quick mode one client is enough for it.
      if (s.name.startsWith('bare') && client !== 's_time' && !ctx.plan.full) continue;
      tracks.push({ server: s.name, client, skip: s.skip, rounds: [], errors: [] });
    }
  }
  ctx.log(
    `case 3: handshakes, ${ctx.plan.handshakeSeconds} s per measurement, ${ctx.plan.runs} rounds`,
  );
  for (let r = 0; r < ctx.plan.runs; r++) {
    for (const s of rotate(servers, r)) {
      if (s.skip) continue;
      let server: Server | undefined;
      try {
        server = await s.start();
        for (const client of clients) {
          const t = tracks.find((x) => x.server === s.name && x.client === client);
          if (!t) continue;
          try {
            const m = await measure(
              ctx,
              server,
              client,
              `hs-${s.name}-${client}-${r}`.replace(/\W/g, '_'),
            );
            t.rounds[r] = m;
            ctx.log(
              `handshakes round ${r + 1}: ${s.name} / ${client}: ${m.perSecond.toFixed(0)}/s, ` +
                `server ${m.serverCpuMs.toFixed(2)} ms CPU each` +
                (m.serverLogged !== undefined
                  ? `, server logged ${m.serverLogged}/${m.handshakes}`
                  : ''),
            );
          } catch (e) {
            t.errors.push(`round ${r + 1}: ${e instanceof Error ? e.message : String(e)}`);
            ctx.log(`handshakes round ${r + 1}: ${s.name} / ${client} FAILED: ${String(e)}`);
          }
        }
      } catch (e) {
        for (const t of tracks.filter((x) => x.server === s.name)) {
          t.errors.push(`round ${r + 1}: ${e instanceof Error ? e.message : String(e)}`);
        }
      } finally {
        await server?.stop();
      }
    }
  }
  return tracks;
}

const some = (t: HandshakeTrack) => t.rounds.filter((s): s is HandshakeSample => s !== undefined);

export function handshakeRows(tracks: HandshakeTrack[]): string[][] {
  const rows = [['server / client', 'handshakes/s', '÷ nginx', 'server CPU ms/handshake']];
  for (const t of tracks) {
    const label = `${t.server} / ${t.client}`;
    if (t.skip) {
      rows.push([label, `skipped: ${t.skip}`]);
      continue;
    }
    if (some(t).length === 0) {
      rows.push([label, `failed: ${t.errors[0] ?? '?'}`]);
      continue;
    }
    const base = tracks.find((x) => x.server === 'nginx' && x.client === t.client);
    rows.push([
      label,
      fmt(figure(t, perSecond)),
      base && base !== t && some(base).length ? fmt(pairedRatio(t, base, perSecond), 2) : '1',
      fmt(
        figure(t, (s) => s.serverCpuMs),
        2,
      ),
    ]);
  }
  return rows;
}
