/**
 * `npm run bench:scaling`: securestream behind HAProxy (TCP mode, `send-proxy-v2`, TLS end
 * to end) with 1, 2 and 3 servers, against one server dialled directly. Two figures per set-up:
 * aggregate download throughput (CLIENTS downloads of one 64 MiB file at once, from fetcher
 * processes that each run several; copies go to /dev/shm so that no disk is measured), the CPU
 * seconds per GiB that the servers and HAProxy spent on it (which a loaded machine disturbs
 * far less than wall-clock rates), and full
 * mutual-TLS handshakes per second (two `openssl s_time -new` at once). Server i is pinned to
 * core i mod the core count (`taskset`); HAProxy and the clients float. `uptime` is printed
 * with every row. Flags: `--runs N` (default 3), `--clients N` (default 12).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { GiB, MiB, cpuSeconds, fmt, stat, table, type Stat } from './measure.js';
import { RESULTS, cliPath, fetcherPath } from './paths.js';
import { makePki, type Pki } from './pki.js';
import { sTimeCmd } from './peers/s_time.js';
import {
  cleanup,
  cleanupOnExit,
  freePort,
  removeDir,
  sleep,
  start,
  stop,
  tempDir,
  waitExit,
  waitForPort,
  type Proc,
} from './procs.js';

const CORES = availableParallelism();

interface Setup {
  name: string;
  servers: number;
  haproxy: boolean;
}
const SETUPS: Setup[] = [
  { name: '1 server, direct', servers: 1, haproxy: false },
  { name: 'HAProxy + 1 server', servers: 1, haproxy: true },
  { name: 'HAProxy + 2 servers', servers: 2, haproxy: true },
  { name: 'HAProxy + 3 servers', servers: 3, haproxy: true },
];

interface Row {
  setup: string;
  mbps: Stat;
  handshakes: Stat;
  /** CPU seconds per GiB downloaded: all servers together, and HAProxy. */
  serverCpu: Stat;
  haproxyCpu: Stat;
  load: string;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} wants a whole number`);
  return v;
}

async function startServers(
  n: number,
  pki: Pki,
  root: string,
  proxied: boolean,
): Promise<{ procs: Proc[]; ports: number[] }> {
  const procs: Proc[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const args = [
      cliPath(),
      'serve',
      '--pki',
      pki.dir,
      '--root',
      root,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--log-format',
      'json',
      '--max-connections-per-address',
      '1000',
      ...(proxied ? ['--proxy-protocol', '--trusted-proxy', '127.0.0.1'] : []),
    ];
    procs.push(start('taskset', ['-c', String(i % CORES), process.execPath, ...args]));
    ports.push(port);
  }
  for (const p of ports) await waitForPort(p, 20_000, 'securestream');
  return { procs, ports };
}

async function startHaproxy(
  dir: string,
  backends: number[],
): Promise<{ proc: Proc; port: number }> {
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    `global\n  maxconn 4000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 5m\n  timeout server 5m\n` +
      `frontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  balance leastconn\n` +
      backends.map((p, i) => `  server s${i} 127.0.0.1:${p} send-proxy-v2\n`).join(''),
  );
  const proc = start('haproxy', ['-f', cfg, '-db']);
  await waitForPort(port, 10_000, 'haproxy');
  return { proc, port };
}

/** CLIENTS downloads at once through `port`: MB/s of all bytes over the wall time. */
async function throughput(
  port: number,
  pki: Pki,
  size: number,
  clients: number,
  scratch: string,
): Promise<number> {
  const procsN = Math.min(clients, 4);
  const per = Math.ceil(clients / procsN);
  mkdirSync(scratch, { recursive: true });
  const t0 = process.hrtime.bigint();
  const runs = Array.from({ length: procsN }, (_, i) =>
    start(
      process.execPath,
      [fetcherPath(), String(port), pki.dir, 'file.bin', join(scratch, `c${i}`), String(per)],
      { stderr: join(scratch, `c${i}.err`) },
    ),
  );
  for (const r of runs) {
    const code = await waitExit(r, 300_000, 'fetcher');
    if (code !== 0)
      throw new Error(`fetcher exited ${code}: ${readFileSync(join(scratch, 'c0.err'), 'utf8')}`);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  removeDir(scratch);
  return (size * procsN * per) / 1e6 / s;
}

/** Two `openssl s_time -new` for `seconds` at once: their connections per second, summed. */
async function handshakes(port: number, pki: Pki, seconds: number): Promise<number> {
  const { cmd, args } = sTimeCmd(pki, port, seconds);
  const runs = [0, 1].map(() => {
    const p = start(cmd, args, { stdout: 'pipe' });
    let out = '';
    p.child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    return p.exited.then(() => {
      const m = /(\d+) connections in ([\d.]+)s/.exec(out);
      return m ? Number(m[1]) / Number(m[2]) : 0;
    });
  });
  return (await Promise.all(runs)).reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  cleanupOnExit();
  const runs = arg('--runs', 3);
  const clients = arg('--clients', 12);
  const work = tempDir('/dev/shm', 'securestream-scaling-');
  const size = 64 * MiB;
  try {
    const pki = await makePki(work);
    const root = join(work, 'root');
    spawnSync('mkdir', ['-p', root]);
    const made = spawnSync(process.execPath, [
      cliPath(),
      'payload',
      join(root, 'file.bin'),
      '--size',
      String(size),
    ]);
    if (made.status !== 0) throw new Error('payload failed');
    const rows: Row[] = [];
    for (const setup of SETUPS) {
      const mb: number[] = [];
      const hs: number[] = [];
      const sc: number[] = [];
      const hc: number[] = [];
      for (let r = 0; r < runs; r++) {
        const servers = await startServers(setup.servers, pki, root, setup.haproxy);
        const lb = setup.haproxy ? await startHaproxy(work, servers.ports) : undefined;
        const port = lb?.port ?? servers.ports[0] ?? 0;
        try {
          await sleep(300);
          const cpu = (): [number, number] => [
            servers.procs.reduce((n, p) => n + (cpuSeconds(p.pid) ?? 0), 0),
            lb ? (cpuSeconds(lb.proc.pid) ?? 0) : 0,
          ];
          const [s0, h0] = cpu();
          mb.push(await throughput(port, pki, size, clients, join(work, `dl-${r}`)));
          const [s1, h1] = cpu();
          const gib = (size * clients) / GiB;
          sc.push((s1 - s0) / gib);
          hc.push((h1 - h0) / gib);
          hs.push(await handshakes(port, pki, 3));
        } finally {
          if (lb) await stop(lb.proc);
          for (const p of servers.procs) await stop(p);
        }
      }
      const row = {
        setup: setup.name,
        mbps: stat(mb),
        handshakes: stat(hs),
        serverCpu: stat(sc),
        haproxyCpu: stat(hc),
        load: loadavg()
          .map((l) => l.toFixed(2))
          .join(' '),
      };
      rows.push(row);
      process.stdout.write(
        `${row.setup}: ${fmt(row.mbps)} MB/s, ${fmt(row.handshakes)} handshakes/s (load ${row.load})\n`,
      );
    }
    const base = rows[1];
    const out = [
      [
        'set-up',
        'MB/s (median, min–max)',
        '× HAProxy+1',
        'handshakes/s',
        '× HAProxy+1',
        'server CPU s/GiB',
        'HAProxy CPU s/GiB',
        'load 1/5/15 min',
      ],
    ];
    for (const r of rows)
      out.push([
        r.setup,
        fmt(r.mbps),
        base ? (r.mbps.median / base.mbps.median).toFixed(2) : '–',
        fmt(r.handshakes),
        base ? (r.handshakes.median / base.handshakes.median).toFixed(2) : '–',
        fmt(r.serverCpu, 2),
        r.setup.includes('HAProxy') ? fmt(r.haproxyCpu, 2) : '–',
        r.load,
      ]);
    process.stdout.write(
      `\n${CORES} cores, ${clients} clients × ${size / MiB} MiB, ${runs} runs\n${table(out)}\n`,
    );
    spawnSync('mkdir', ['-p', RESULTS]);
    writeFileSync(
      join(RESULTS, `scaling-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      JSON.stringify({ cores: CORES, clients, size, runs, rows }, null, 2),
    );
  } finally {
    cleanup();
    removeDir(work);
  }
}

await main();
