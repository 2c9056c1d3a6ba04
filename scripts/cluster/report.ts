/**
 * What a cluster run shows, read from what each party recorded on its own: the balancer's
 * session log (which server each connection went to), each server's JSON log (its requests,
 * with the client address PROXY v2 gave it), each server's status endpoint as the probe saw it
 * (health, bytes sent), and each client's exit status, digest line and notes ("resuming at
 * byte N"). A client's retries pair with its sessions in order: attempt k+1 is its session
 * k+1, so each resume is known by the byte it resumed from (the client's note), the server
 * that cut it and the one that took it (the balancer's log), and that server's 206 response
 * (its own log). Every disagreement between the parties is a failure.
 */
import { downReasons, parseSessions, type Session } from './haproxy.js';

export type Fate = 'served to the end' | 'drained (SIGTERM)' | 'killed (SIGKILL)';

/** One look of the probe (probe.ts). */
export interface Look {
  t: number;
  server: string;
  health: number;
  sent?: number;
}

export interface ServerRun {
  name: string;
  address: string;
  fate: Fate;
  /** Its stderr: one JSON object per line. */
  log: string;
  /** When it was sent SIGTERM or SIGKILL by the run, and when it exited, ms since the epoch. */
  signalledAt?: number | undefined;
  exitedAt?: number | undefined;
  code?: number | null | undefined;
  signal?: string | null | undefined;
}

export interface ClientRun {
  name: string;
  address: string;
  file: string;
  code: number | null | undefined;
  stdout: string;
  stderr: string;
  /** `sha256sum` of what it stored ('missing' when there is no file). */
  stored: string;
}

export interface RunRecord {
  /** When the clients were started and when the last one exited, ms since the epoch. */
  startedAt: number;
  endedAt: number;
  fileBytes: number;
  /** `sha256sum` of each served file, by name. */
  sources: Map<string, string>;
  servers: ServerRun[];
  clients: ClientRun[];
  looks: Look[];
  /** HAProxy's stdout and stderr: session lines and health-check events. */
  balancerLog: string;
}

export interface ServerCounts {
  name: string;
  address: string;
  fate: Fate;
  /** Client connections the balancer sent it, and the bytes it relayed back from them. */
  sessions: number;
  relayedBytes: number;
  /** From its own log: connections, requests by status (200 whole, 206 ranged) and outcome. */
  connections: number;
  whole: number;
  ranged: number;
  ok: number;
  cut: number;
  /** securestream_sent_bytes_total as the probe last read it. */
  sentBytes: number;
  /** Distinct client addresses in its log. */
  clients: number;
}

export interface Resume {
  client: string;
  file: string;
  /** The byte the client resumed from, as it said. */
  atByte: number;
  /** The server that cut it and the one that took the next attempt (the balancer's log). */
  from: string;
  through: string;
  /** The taking server's response as it logged it (none if it was killed before logging). */
  status?: number | undefined;
  range?: string | undefined;
}

export interface ClientResult {
  name: string;
  address: string;
  file: string;
  code: number | null | undefined;
  /** The digest `get` printed, and whether it and the stored file equal the source's. */
  digest: string;
  matches: boolean;
  sessions: number;
  /** Retries it made (`get --retries`), each noted on its stderr. */
  retries: number;
}

export interface DrainTimes {
  server: string;
  signalledAt: number;
  /** The probe's first 503 after the signal, its last 200, and the process's exit. */
  first503At?: number | undefined;
  last200At?: number | undefined;
  exitedAt?: number | undefined;
  /** The time of the first transfer it logged as cut (its grace over), from its own log. */
  firstCutAt?: number | undefined;
  /** Why the balancer took it out, in HAProxy's words. */
  down: string[];
}

export interface ClusterReport {
  startedAt: number;
  seconds: number;
  bytes: number;
  clients: ClientResult[];
  servers: ServerCounts[];
  resumes: Resume[];
  drain?: DrainTimes | undefined;
  killed?: { server: string; at: number; signal?: string | null | undefined } | undefined;
  /** Server log lines checked against the balancer's sessions, and any that do not match. */
  peersLogged: number;
  peersWrong: string[];
  failures: string[];
}

type LogLine = Record<string, unknown>;

const jsonLines = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

const hostOf = (addressPort: string): string => addressPort.replace(/:\d+$/, '');

export function analyse(r: RunRecord): ClusterReport {
  const failures: string[] = [];
  const sessions = parseSessions(r.balancerLog);
  const logs = new Map(r.servers.map((s) => [s.name, jsonLines(s.log)]));
  const clientAddresses = new Set(r.clients.map((c) => c.address));

  // Every line a server logged about a client names that client, and the balancer agrees
  // that this client's connection, from this source port of the balancer, went to this server.
  let peersLogged = 0;
  const peersWrong: string[] = [];
  for (const [server, lines] of logs) {
    for (const l of lines.filter((x) => x['msg'] === 'request' || x['msg'] === 'connection')) {
      peersLogged++;
      const peer = String(l['peer']);
      const proxy = String(l['proxy']);
      const match = sessions.find(
        (s) => s.client === peer && s.source === proxy && s.server === server,
      );
      if (!clientAddresses.has(hostOf(peer)) || !match)
        peersWrong.push(`${server}: peer ${peer} proxy ${proxy}`);
    }
  }
  if (peersWrong.length > 0)
    failures.push(`server log lines without a matching client session: ${peersWrong.join('; ')}`);

  const clients: ClientResult[] = [];
  const resumes: Resume[] = [];
  for (const c of r.clients) {
    const source = r.sources.get(c.file) ?? '?';
    const digest = c.stdout.split(' ')[0] ?? '';
    const matches = digest === source && c.stored === source;
    if (c.code !== 0) failures.push(`${c.name} exited ${c.code}: ${c.stderr.trim()}`);
    if (!matches)
      failures.push(`${c.name}: printed ${digest}, stored ${c.stored}, source ${source}`);
    const mine = sessions.filter((s) => hostOf(s.client) === c.address);
    // One note per retry: "resuming at byte N in T ms", or "starting over" when nothing was held.
    const at = [...c.stderr.matchAll(/; (?:resuming at byte (\d+)|starting over) in \d+ ms/g)].map(
      (m) => Number(m[1] ?? 0),
    );
    if (mine.length !== at.length + 1)
      failures.push(`${c.name}: ${mine.length} sessions for ${at.length + 1} attempts`);
    for (const [k, atByte] of at.entries()) {
      const cut = mine[k];
      const next = mine[k + 1];
      if (!cut || !next) break;
      resumes.push(resumeOf(c, atByte, cut, next, logs.get(next.server) ?? [], failures));
    }
    clients.push({
      name: c.name,
      address: c.address,
      file: c.file,
      code: c.code,
      digest,
      matches,
      sessions: mine.length,
      retries: at.length,
    });
  }

  const drained = r.servers.find((s) => s.fate === 'drained (SIGTERM)');
  const drain = drained && drainTimes(drained, r, failures);
  const lost = r.servers.find((s) => s.fate === 'killed (SIGKILL)');
  const servers = r.servers.map((s) => countsOf(s, sessions, logs.get(s.name) ?? [], r.looks));
  return {
    startedAt: r.startedAt,
    seconds: (r.endedAt - r.startedAt) / 1000,
    bytes: r.fileBytes * r.clients.length,
    clients,
    servers,
    resumes,
    drain,
    killed: lost?.signalledAt
      ? { server: lost.name, at: lost.signalledAt, signal: lost.signal }
      : undefined,
    peersLogged,
    peersWrong,
    failures,
  };
}

function resumeOf(
  c: ClientRun,
  atByte: number,
  cut: Session,
  next: Session,
  log: LogLine[],
  failures: string[],
): Resume {
  const answer = log.find((l) => l['msg'] === 'request' && l['peer'] === next.client);
  const resume: Resume = {
    client: c.name,
    file: c.file,
    atByte,
    from: cut.server,
    through: next.server,
    status: answer ? Number(answer['status']) : undefined,
    range: typeof answer?.['range'] === 'string' ? answer['range'] : undefined,
  };
  if (next.server === cut.server)
    failures.push(`${c.name} resumed through ${next.server}, the server that cut it`);
  const wanted =
    atByte > 0 ? { status: 206, range: `bytes ${atByte}-` } : { status: 200, range: '' };
  if (
    answer &&
    (answer['status'] !== wanted.status || !(resume.range ?? '').startsWith(wanted.range))
  )
    failures.push(
      `${c.name} resumed at byte ${atByte} but ${next.server} answered ${resume.status} ${resume.range}`,
    );
  return resume;
}

function drainTimes(s: ServerRun, r: RunRecord, failures: string[]): DrainTimes {
  const signalledAt = s.signalledAt ?? NaN;
  // Looks overlap (each waits up to 1 s for its answer): in the order their answers came.
  const after = r.looks
    .filter((l) => l.server === s.name && l.t > signalledAt)
    .sort((a, b) => a.t - b.t);
  const first503At = after.find((l) => l.health === 503)?.t;
  const last200At = after.filter((l) => l.health === 200).pop()?.t;
  const cuts = jsonLines(s.log)
    .filter((l) => l['msg'] === 'request' && l['outcome'] !== 'ok')
    .map((l) => Date.parse(String(l['time'])));
  const d: DrainTimes = {
    server: s.name,
    signalledAt,
    first503At,
    last200At,
    exitedAt: s.exitedAt,
    firstCutAt: cuts.length > 0 ? Math.min(...cuts) : undefined,
    down: downReasons(r.balancerLog, s.name),
  };
  if (first503At === undefined) failures.push(`${s.name}: no 503 from /healthz after SIGTERM`);
  else if (s.exitedAt === undefined || first503At >= s.exitedAt)
    failures.push(`${s.name}: /healthz 503 at ${first503At}, not before its exit ${s.exitedAt}`);
  else if (d.firstCutAt !== undefined && first503At >= d.firstCutAt)
    failures.push(
      `${s.name}: /healthz 503 at ${first503At}, not before its first cut ${d.firstCutAt}`,
    );
  if (first503At !== undefined && last200At !== undefined && last200At > first503At)
    failures.push(`${s.name}: /healthz answered 200 again after its first 503`);
  if (!d.down.some((why) => /code: 503/.test(why)))
    failures.push(`${s.name}: HAProxy did not take it out for its 503: ${d.down.join('; ')}`);
  if (s.code !== 0) failures.push(`${s.name}: exited ${s.code ?? s.signal} after draining`);
  return d;
}

function countsOf(s: ServerRun, sessions: Session[], log: LogLine[], looks: Look[]): ServerCounts {
  const mine = sessions.filter((x) => x.server === s.name);
  const requests = log.filter((l) => l['msg'] === 'request');
  // a counter: its largest reading is its last (looks overlap, so they come out of order)
  const sent = Math.max(0, ...looks.filter((l) => l.server === s.name).map((l) => l.sent ?? 0));
  return {
    name: s.name,
    address: s.address,
    fate: s.fate,
    sessions: mine.length,
    relayedBytes: mine.reduce((n, x) => n + x.bytes, 0),
    connections: log.filter((l) => l['msg'] === 'connection').length,
    whole: requests.filter((l) => l['status'] === 200).length,
    ranged: requests.filter((l) => l['status'] === 206).length,
    ok: requests.filter((l) => l['outcome'] === 'ok').length,
    cut: requests.filter((l) => l['outcome'] !== 'ok').length,
    sentBytes: sent,
    clients: new Set(requests.map((l) => hostOf(String(l['peer'])))).size,
  };
}

/** The report as lines for a terminal: times in ms from the clients' start, sizes in MiB. */
export function formatReport(r: ClusterReport): string[] {
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
  const ms = (t: number | undefined): string =>
    t === undefined || Number.isNaN(t) ? '-' : `${t - r.startedAt} ms`;
  const ok = r.clients.filter((c) => c.code === 0).length;
  const matched = r.clients.filter((c) => c.matches).length;
  const resumed = new Set(r.resumes.map((x) => x.client)).size;
  const row = (cells: string[], widths: number[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const widths = [6, 12, 17, 8, 11, 11, 5, 5, 4, 3, 12, 7];
  const lines = [
    '',
    `clients: ${ok}/${r.clients.length} exited 0, ${matched}/${r.clients.length} digests equal sha256sum of the source, ${resumed} resumed (${r.resumes.length} resumes)`,
    `bytes: ${mib(r.bytes)} MiB delivered in ${r.seconds.toFixed(1)} s`,
    `retries used: ${r.clients.reduce((n, c) => n + c.retries, 0)} in all, at most ${Math.max(0, ...r.clients.map((c) => c.retries))} by one client`,
  ];
  if (r.drain) {
    const d = r.drain;
    lines.push(
      `drain of ${d.server}: SIGTERM at ${ms(d.signalledAt)}, /healthz 503 at ${ms(d.first503At)}, first transfer cut at ${ms(d.firstCutAt)}, exit at ${ms(d.exitedAt)}; HAProxy: ${d.down[0] ?? 'never took it out'}`,
    );
  }
  if (r.killed) lines.push(`${r.killed.server}: SIGKILL at ${ms(r.killed.at)}`);
  lines.push(
    '',
    row(
      [
        'server',
        'address',
        'fate',
        'sessions',
        'relayed MiB',
        'logged conn',
        '200',
        '206',
        'ok',
        'cut',
        'MiB sent',
        'clients',
      ],
      widths,
    ),
    ...r.servers.map((s) =>
      row(
        [
          s.name,
          s.address,
          s.fate,
          String(s.sessions),
          mib(s.relayedBytes),
          String(s.connections),
          String(s.whole),
          String(s.ranged),
          String(s.ok),
          String(s.cut),
          mib(s.sentBytes),
          String(s.clients),
        ],
        widths,
      ),
    ),
    '',
    'failover (client, file: cut by, resumed from byte, through, answer):',
    ...r.resumes.map((x) =>
      `  ${x.client.padEnd(4)} ${x.file}: cut by ${x.from}, resumed at byte ${x.atByte} (${mib(x.atByte)} MiB) through ${x.through}: ${x.status ?? 'not logged (killed)'} ${x.range ?? ''}`.trimEnd(),
    ),
    '',
    `server log lines naming clients: ${r.peersLogged}, each matching a balancer session of that client: ${r.peersWrong.length === 0 ? 'yes' : `NO (${r.peersWrong.length})`}`,
    ...r.failures.map((f) => `FAILED: ${f}`),
  );
  return lines;
}
