/**
 * The cluster on one machine (issue 15): a switch, a balancer, three servers and N clients,
 * each a network namespace (../netns.ts). HAProxy balances TCP with `send-proxy-v2` and
 * checks each server's /healthz; the servers serve the same folder with the same PKI,
 * trusting only the balancer for PROXY headers. Every client downloads a large file through
 * the balancer on its own rate-limited link with `get --retries`. Mid-run one server is
 * drained (SIGTERM with a short grace: its /healthz turns 503 at once, the balancer takes it
 * out, its transfers are cut when the grace ends) and another is killed outright (SIGKILL by
 * PID). Every client resumes through a surviving server; the run checks every digest against
 * `sha256sum` of the source and reports per server what it served and to whom (report.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Segment, type Host } from '../netns.js';
import { balancerConfig } from './haproxy.js';
import { Procs, until, type Proc } from './procs.js';
import { analyse, type ClusterReport, type Look, type ServerRun } from './report.js';

export interface ClusterOptions {
  /** An empty folder for the PKI, the served files, the clients' copies and every log. */
  work: string;
  /** The securestream CLI (dist/src/cli.js) and the node that runs it. */
  cli: string;
  node: string;
  clients: number;
  /** Distinct files served, each `fileMiB` MiB; client i fetches file i mod files. */
  files: number;
  fileMiB: number;
  /** Each client's download link, Mbit/s. */
  clientMbit: number;
  /** Share of all bytes sent when s2 is drained (SIGTERM) and s3 killed (SIGKILL). */
  drainAt: number;
  killAt: number;
  /** s2's --grace, ms: how long its transfers may go on before they are cut. */
  graceMs: number;
  /** `get --retries`: attempts after a failure, each resuming what arrived. */
  retries: number;
  /** The clients are stopped (and fail) if they have not all finished by then, ms. */
  deadlineMs: number;
  say: (line: string) => void;
}

const LB = '198.18.0.1';
const serverAddress = (i: number): string => `198.18.0.${11 + i}`;
const clientAddress = (i: number): string => `198.18.0.${101 + i}`;
const PORT = 8443;
const STATUS = 9100;
const CHECK_MS = 200;
/**
 * TCP buffers of the balancer and the servers, bytes. Left to the kernel, they grow to several
 * MiB per connection on these sub-millisecond links (seen: 2-4 MiB in a server's send buffer,
 * 0.5-2 MiB in each of the balancer's), seconds of a client's link: a server would hand over
 * the whole of a file long before its client had it, and a kill or a drain would cut nothing.
 */
const SOCKET_BUFFER = 256 * 1024;

/** Runs the cluster and reports; everything it started is stopped and removed before it returns. */
export async function runCluster(o: ClusterOptions): Promise<ClusterReport> {
  if (o.clients < 1 || o.clients > 150) throw new Error('1 to 150 clients');
  const { say } = o;
  const net = new Segment();
  const procs = new Procs(net);
  const failures: string[] = [];
  try {
    const report = await run(o, net, procs);
    failures.push(...report.failures);
    return { ...report, failures };
  } finally {
    await procs.stopAll();
    const { killed, left } = net.remove();
    if (killed.length > 0) failures.push(`processes left in the namespaces: ${killed.join(' ')}`);
    if (left.length > 0) failures.push(`left behind: ${left.join(' ')}`);
    say('stopped every process by PID; namespaces and links removed');
  }
}

async function run(o: ClusterOptions, net: Segment, procs: Procs): Promise<ClusterReport> {
  const { say } = o;
  const pki = join(o.work, 'pki');
  const data = join(o.work, 'data');
  const out = join(o.work, 'out');
  const logs = join(o.work, 'logs');
  for (const d of [data, out, logs]) await mkdir(d, { recursive: true });
  const cli = (args: string[]): void => {
    const r = spawnSync(o.node, [o.cli, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`securestream ${args.join(' ')}: ${r.stderr}`);
  };
  // One PKI for every server: the certificate names the balancer's address, which clients dial.
  cli(['pki', 'init', '--dir', pki, '--san', LB]);
  const files = Array.from({ length: o.files }, (_, f) => `big-${f}.bin`);
  for (const f of files) cli(['payload', join(data, f), '--size', `${o.fileMiB}MiB`]);
  const sources = sha256sum(files.map((f) => join(data, f)));
  const sourceOf = new Map(files.map((f) => [f, sources.get(join(data, f)) ?? '?']));
  say(`${o.files} files of ${o.fileMiB} MiB in one folder, one PKI, shared by every server`);

  const lb = net.add('lb', LB, { socketBuffer: SOCKET_BUFFER });
  const servers = [0, 1, 2].map((i) =>
    net.add(`s${i + 1}`, serverAddress(i), { socketBuffer: SOCKET_BUFFER }),
  );
  const clients = Array.from({ length: o.clients }, (_, i) =>
    net.add(`c${i + 1}`, clientAddress(i), { downMbit: o.clientMbit }),
  );
  say(
    `hosts: balancer ${LB}, servers ${servers.map((s) => s.address).join(' ')}, ${o.clients} clients ${clientAddress(0)}-${clientAddress(o.clients - 1)} at ${o.clientMbit} Mbit/s each`,
  );

  const serverProcs = servers.map((s, i) =>
    procs.start(s.name, s, o.node, [
      o.cli,
      'serve',
      ...['--pki', pki, '--root', data, '--host', s.address, '--port', String(PORT)],
      ...['--proxy-protocol', '--trusted-proxy', LB],
      ...['--status-listen', `${s.address}:${STATUS}`, '--log-format', 'json'],
      ...['--grace', i === 1 ? `${o.graceMs}ms` : '60s'],
    ]),
  );
  for (const p of serverProcs)
    await until(
      `${p.name} listening`,
      () => /listening on/.test(p.out) || p.exitedAt !== undefined,
    );
  for (const p of serverProcs)
    if (p.exitedAt !== undefined) throw new Error(`${p.name} did not start: ${p.err}`);

  const cfg = join(o.work, 'haproxy.cfg');
  await writeFile(
    cfg,
    balancerConfig({ bind: LB, port: PORT, servers, statusPort: STATUS, checkMs: CHECK_MS }),
  );
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c: ${check.stdout}${check.stderr}`);
  const haproxy = procs.start('haproxy', lb, 'haproxy', ['-f', cfg, '-db']);
  const looks: Look[] = [];
  const probe = procs.start(
    'probe',
    lb,
    o.node,
    [
      join(dirname(o.cli), '../scripts/cluster/probe.js'),
      ...servers.map((s) => `${s.name}=http://${s.address}:${STATUS}`),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let onLook: (() => void) | undefined;
  createInterface({ input: probe.child.stdout ?? process.stdin }).on('line', (line) => {
    looks.push(JSON.parse(line) as Look);
    onLook?.();
  });
  // Up when the balancer listens and every server has answered the probe and two checks since.
  await until('the balancer listening', () => listens(lb, PORT) || haproxy.exitedAt !== undefined);
  if (haproxy.exitedAt !== undefined) throw new Error(`haproxy did not start: ${haproxy.err}`);
  await until('every server healthy', () =>
    servers.every((s) => looks.some((l) => l.server === s.name && l.health === 200)),
  );
  await new Promise((r) => setTimeout(r, 3 * CHECK_MS));

  const total = o.clients * o.fileMiB * 2 ** 20;
  say(
    `${o.clients} clients start: ${(total / 2 ** 20).toFixed(0)} MiB in all, through the balancer`,
  );
  const startedAt = Date.now();
  const gets = clients.map((c, i) =>
    procs.start(c.name, c, o.node, [
      o.cli,
      'get',
      files[i % o.files] ?? '',
      ...['--server', `${LB}:${PORT}`, '--pki', pki, '--out', join(out, `${c.name}.bin`)],
      ...['--retries', String(o.retries), '--quiet'],
    ]),
  );
  const [s2, s3] = [serverProcs[1] as Proc, serverProcs[2] as Proc];
  const at: Record<string, number | undefined> = {};
  const sentNow = (): number => {
    const last = new Map<string, number>();
    for (const l of looks) last.set(l.server, Math.max(last.get(l.server) ?? 0, l.sent ?? 0));
    return [...last.values()].reduce((a, b) => a + b, 0);
  };
  onLook = () => {
    const sent = sentNow();
    if (at['s2'] === undefined && sent >= o.drainAt * total) {
      at['s2'] = Date.now();
      say(
        `${(sent / 2 ** 20).toFixed(0)} MiB sent: SIGTERM to s2 (draining, --grace ${o.graceMs} ms)`,
      );
      Procs.signal(s2, 'SIGTERM');
    }
    if (at['s3'] === undefined && sent >= o.killAt * total) {
      at['s3'] = Date.now();
      say(`${(sent / 2 ** 20).toFixed(0)} MiB sent: SIGKILL to s3 (PID ${s3.pid}, a lost node)`);
      Procs.signal(s3, 'SIGKILL');
    }
  };
  const deadline = setTimeout(() => {
    say(`clients still running after ${o.deadlineMs} ms: stopping them`);
    for (const g of gets) Procs.signal(g, 'SIGKILL');
  }, o.deadlineMs);
  await Promise.all(gets.map((g) => g.closed));
  clearTimeout(deadline);
  const endedAt = Date.now();
  onLook = undefined;
  say(`every client exited after ${((endedAt - startedAt) / 1000).toFixed(1)} s`);

  // The survivors stop as an operator would stop them; the logs are complete once they have.
  probe.child.stdin?.end();
  Procs.signal(serverProcs[0] as Proc, 'SIGTERM');
  Procs.signal(haproxy, 'SIGTERM');
  await Promise.all([probe, haproxy, ...serverProcs].map((p) => p.closed));

  const stored = sha256sum(clients.map((c) => join(out, `${c.name}.bin`)));
  for (const p of procs.all) await writeFile(join(logs, `${p.name}.log`), p.err + p.out);
  const fates: ServerRun['fate'][] = ['served to the end', 'drained (SIGTERM)', 'killed (SIGKILL)'];
  return analyse({
    startedAt,
    endedAt,
    fileBytes: o.fileMiB * 2 ** 20,
    sources: sourceOf,
    servers: serverProcs.map((p, i) => ({
      name: p.name,
      address: servers[i]?.address ?? '?',
      fate: fates[i] ?? 'served to the end',
      log: p.err,
      signalledAt: at[p.name],
      exitedAt: p.exitedAt,
      code: p.code,
      signal: p.signal,
    })),
    clients: gets.map((g, i) => ({
      name: g.name,
      address: clientAddress(i),
      file: files[i % o.files] ?? '',
      code: g.code,
      stdout: g.out,
      stderr: g.err,
      stored: stored.get(join(out, `${g.name}.bin`)) ?? 'missing',
    })),
    looks,
    balancerLog: haproxy.out + haproxy.err,
  });
}

/** `sha256sum FILE...` (coreutils, not our code): digest by path; a missing file is left out. */
function sha256sum(paths: string[]): Map<string, string> {
  const r = spawnSync('sha256sum', paths, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) throw new Error(`sha256sum: ${r.error.message}`);
  const digests = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (m?.[1] && m[2]) digests.set(m[2], m[1]);
  }
  return digests;
}

/** Whether something listens on host:port inside `host`'s namespace (`ss` from iproute2). */
function listens(host: Host, port: number): boolean {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', host.ns, 'ss', '-Hltn', `src ${host.address}:${port}`],
    {
      encoding: 'utf8',
    },
  );
  return r.status === 0 && r.stdout.trim() !== '';
}
