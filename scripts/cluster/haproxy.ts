/**
 * The balancer of the cluster: HAProxy's configuration (TCP mode, PROXY protocol v2 to each
 * server, health checks on each server's status port, as docs/DEPLOY.md shows) and the
 * reading of its log, one line per TCP session, which is the balancer's own account of which
 * server each client connection went to and how many bytes it carried back.
 */

export interface Backend {
  name: string;
  address: string;
}

export interface BalancerOptions {
  /** Where clients connect: the balancer's address and the TLS port. */
  bind: string;
  port: number;
  servers: Backend[];
  /** The servers' --status-listen port, where the checks ask for /healthz. */
  statusPort: number;
  /** Check interval, ms: one failed check takes a server out, two good ones put it back. */
  checkMs: number;
}

/**
 * One session per line on stdout: `session CLIENT:PORT SERVER SOURCE:PORT BYTES STATE
 * RETRIES ACCEPTED_MS` (HAProxy 2.6 log-format: %ci:%cp, %s, %bi:%bp the balancer's side of
 * the server connection, %B bytes from server to client, %ts the termination state, %rc the
 * connection retries, %Ts%ms the accept time in ms since the epoch).
 */
const LOG_FORMAT = 'session %ci:%cp %s %bi:%bp %B %ts %rc %Ts%ms';

export function balancerConfig(o: BalancerOptions): string {
  const lines = [
    'global',
    '  maxconn 1000',
    '  log stdout format raw local0',
    'defaults',
    '  mode tcp',
    '  log global',
    `  log-format "${LOG_FORMAT}"`,
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    // a check's answer may take this long on a busy machine without counting as a failure
    '  timeout check 2s',
    // a connect refused by a lost server is tried again on another one
    '  retries 3',
    '  option redispatch',
    'frontend files',
    `  bind ${o.bind}:${o.port}`,
    '  default_backend securestream',
    'backend securestream',
    '  balance leastconn',
    '  option httpchk GET /healthz',
    '  http-check expect status 200',
    ...o.servers.map(
      (s) =>
        `  server ${s.name} ${s.address}:${o.port} send-proxy-v2 check port ${o.statusPort} inter ${o.checkMs}ms fall 1 rise 2`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** A client connection as HAProxy logged it when it ended. */
export interface Session {
  /** The client's address:port, which PROXY v2 hands to the server. */
  client: string;
  /** The server it went to (`<NOSRV>` when none could be reached). */
  server: string;
  /** The balancer's address:port towards the server (`-:-` when it never connected). */
  source: string;
  bytes: number;
  state: string;
  retries: number;
  acceptedAt: number;
}

const SESSION = /^session (\S+) (\S+) (\S+) (\d+) (\S+) \+?(\d+) (\d+)$/;

export function parseSessions(log: string): Session[] {
  const out: Session[] = [];
  for (const line of log.split('\n')) {
    const m = SESSION.exec(line.trim());
    if (!m) continue;
    out.push({
      client: m[1] ?? '',
      server: m[2] ?? '',
      source: m[3] ?? '',
      bytes: Number(m[4]),
      state: m[5] ?? '',
      retries: Number(m[6]),
      acceptedAt: Number(m[7]),
    });
  }
  return out.sort((a, b) => a.acceptedAt - b.acceptedAt);
}

/** The reasons HAProxy gave for taking `server` out of rotation (its "is DOWN" lines). */
export function downReasons(log: string, server: string): string[] {
  const re = new RegExp(
    `Server securestream/${server} is DOWN, reason: ([^.]*?)(?:, check duration|$)`,
  );
  return log
    .split('\n')
    .map((l) => re.exec(l)?.[1])
    .filter((r): r is string => r !== undefined);
}
