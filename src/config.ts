/**
 * Flags → typed, validated settings, in one place: every option type of the commands and every
 * flag parser (ports, host:port, sizes, durations, counts, names). Nothing here touches the
 * network; each check is a small function whose error names the flags involved. Commands import
 * their option types from here; nothing here imports a command.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';
import { MAX_NAME_BYTES, WireError, checkName, folderPattern, quotedName } from './protocol.js';
import type { Role } from './pki/checks.js';
import type { InitPkiOptions, IssueClientOptions } from './pki/folder.js';
import { pkiPaths } from './pki/paths.js';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/limits.js';
import type { CrlSource } from './revocation.js';
import { DEFAULT_LIMITS, type ServerLimits } from './transport/limits.js';
import type { PrefacePolicy, TrustedNetwork } from './transport/preface.js';
import type { TlsMax } from './transport/tls.js';

export const DEFAULT_PORT = 8443;

export interface PkiFlags {
  pki?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface MaterialPaths {
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** `--pki DIR` or all of `--ca/--cert/--key`; never a mix. */
export function materialPaths(flags: PkiFlags, role: Role): MaterialPaths {
  const explicit = (['ca', 'cert', 'key'] as const).filter((f) => flags[f] !== undefined);
  if (flags.pki !== undefined && explicit.length > 0) {
    throw new UsageError(
      `--pki cannot be combined with ${explicit.map((f) => `--${f}`).join(', ')}`,
      'use either --pki DIR or --ca F --cert F --key F',
    );
  }
  if (explicit.length > 0 && explicit.length < 3) {
    const missing = (['ca', 'cert', 'key'] as const).filter((f) => flags[f] === undefined);
    throw new UsageError(
      `${explicit.map((f) => `--${f}`).join(', ')} given without ${missing.map((f) => `--${f}`).join(', ')}`,
      'pass all three of --ca, --cert and --key',
    );
  }
  if (flags.ca && flags.cert && flags.key) {
    return { caPath: flags.ca, certPath: flags.cert, keyPath: flags.key };
  }
  return pkiPaths(flags.pki ?? 'pki', role);
}

/** `--port`: 0..65535 (0 picks a free port). */
export function parsePort(text: string, flag = '--port'): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(
      `invalid ${flag} "${text}"`,
      'use a number from 0 to 65535 (0 picks a free port)',
    );
  }
  return n;
}

/** `--tls-max`: 1.2 or 1.3. */
export function parseTlsMax(text: string): TlsMax {
  if (text === '1.2' || text === '1.3') return text;
  throw new UsageError(`invalid --tls-max "${text}"`, 'use 1.2 or 1.3');
}

/** `--ciphers`: OpenSSL suite names separated by colons, commas or spaces. */
export function parseCipherList(text: string): string[] {
  const list = text.split(/[:,\s]+/).filter(Boolean);
  if (list.length === 0) throw new UsageError('--ciphers is empty');
  return list;
}

/** An IP address or a DNS name (letters, digits, dots, hyphens). */
function isHostName(text: string): boolean {
  return isIP(text) !== 0 || /^[A-Za-z0-9.-]{1,253}$/.test(text);
}

/** `--host`: an address to listen on, IPv6 with or without brackets. */
export function parseHost(text: string): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isHostName(bare)) return bare;
  throw new UsageError(`invalid --host "${text}"`, 'use an IP address or a host name');
}

/** `--server`: HOST:PORT, [v6]:PORT or HOST (default port); a URL is refused by name. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string | undefined;
  let port: string | undefined;
  if (v6) [, host, port] = v6;
  else if (isIP(text) === 6) host = text;
  else [host, port] = text.split(/:(?=\d*$)/);
  const p = port === undefined ? defaultPort : Number(port);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(
      `invalid server address "${text}": expected HOST:PORT, without a scheme`,
      'use HOST:PORT, e.g. localhost:8443 or [::1]:8443',
    );
  }
  if (host === undefined || !isHostName(host) || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new UsageError(
      `invalid server address "${text}"`,
      'use HOST:PORT, e.g. localhost:8443 or [::1]:8443',
    );
  }
  return { host, port: p };
}

/** `30s`, `500ms`, `2m`, or a plain number of seconds → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] ?? 's'] ?? 1000;
  const ms = m?.[1] ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2 ** 31 - 1) {
    throw new UsageError(`invalid ${flag} "${text}"`, 'use a duration such as 30s, 500ms or 2m');
  }
  return ms;
}

/** A whole number of at least 1 (connections, days, bits). */
export function parseCount(text: string, flag: string): number {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`invalid ${flag} "${text}"`, 'use a whole number of at least 1');
  return n;
}

/** `serve` flags as the CLI parser hands them over (strings, booleans, absent). */
export interface ServeFlags extends PkiFlags {
  root: string;
  host?: string;
  port: string;
  ciphers?: string;
  tlsMax: string;
  handshakeTimeout: string;
  requestTimeout: string;
  idleTimeout: string;
  maxConnections: string;
  maxConnectionsPerAddress: string;
  keepAliveTimeout: string;
  maxRequestsPerConnection: string;
  grace: string;
  encrypt?: boolean;
  workers: string;
  crl?: string;
  access?: string;
  proxyProtocol?: boolean;
  statusListen?: string;
  reloadInterval?: string;
  /** `--trusted-proxy CIDR...`, repeatable, commas allowed. */
  trustedProxy?: string[];
  /** commander's `--no-http`: false when given. */
  http?: boolean;
  logFormat?: 'json' | 'pretty';
}

/** `serve` settings, validated. */
export interface ServeOptions {
  root: string;
  host?: string | undefined;
  /** A listening socket passed by systemd (src/activation.ts): used instead of host and port. */
  fd?: number | undefined;
  port: number;
  material: MaterialPaths;
  /** The PKI folder the material comes from (`--pki`, default ./pki); none with --ca/--cert/--key. */
  pkiDir?: string | undefined;
  ciphers?: string[] | undefined;
  tlsMax?: TlsMax | undefined;
  limits: ServerLimits;
  graceMs: number;
  /** Send every file as sstream-v1, encrypted to the client certificate's key. */
  encrypt: boolean;
  /** Processes sharing the listening socket (node:cluster); 1 serves in this process. */
  workers: number;
  /** `--crl FILE`, the PKI folder's crl.pem when it exists, or none. */
  crl: CrlSource;
  /** `--access FILE`; without it every client certificate from the CA may read everything. */
  accessPath?: string | undefined;
  /** `--log-format`; absent, pretty on a terminal and JSON lines otherwise. */
  logFormat?: 'json' | 'pretty' | undefined;
  /** PROXY protocol before TLS: off, or required from the trusted proxies. */
  preface: PrefacePolicy;
  /** `--status-listen`: where /healthz and /metrics answer; off when absent. */
  status?: { host: string; port: number } | undefined;
  /** `--reload-interval`: how often to look for changed material and rules, in ms; off when absent. */
  reloadIntervalMs?: number | undefined;
  /** HTTP/1.1 and HTTP/2 on the same port (`--no-http` turns them off). */
  http: boolean;
  httpLimits: HttpLimits;
}

/** `--crl FILE`; else, with a PKI folder, its crl.pem whenever it exists; else none. */
export function crlSource(f: ServeFlags): CrlSource {
  if (f.crl !== undefined) {
    if (f.crl === '') throw new UsageError('--crl is empty', 'pass the path of a PEM CRL');
    return { kind: 'explicit', path: f.crl };
  }
  const dir = pkiFolder(f);
  return dir === undefined ? { kind: 'none' } : { kind: 'pki', dir };
}

/** The PKI folder the material comes from (`--pki`, default ./pki); none with --ca/--cert/--key. */
function pkiFolder(f: PkiFlags): string | undefined {
  const explicitMaterial = f.ca !== undefined || f.cert !== undefined || f.key !== undefined;
  return explicitMaterial ? undefined : (f.pki ?? 'pki');
}

export function serveOptions(f: ServeFlags): ServeOptions {
  const requestTimeoutMs = parseDuration(f.requestTimeout, '--request-timeout');
  return {
    root: f.root,
    host: f.host === undefined ? undefined : parseHost(f.host),
    port: parsePort(f.port),
    material: materialPaths(f, 'server'),
    pkiDir: pkiFolder(f),
    ciphers: f.ciphers === undefined ? undefined : parseCipherList(f.ciphers),
    tlsMax: parseTlsMax(f.tlsMax),
    limits: {
      handshakeTimeoutMs: parseDuration(f.handshakeTimeout, '--handshake-timeout'),
      requestTimeoutMs,
      idleTimeoutMs: parseDuration(f.idleTimeout, '--idle-timeout'),
      maxConnections: parseCount(f.maxConnections, '--max-connections'),
      maxConnectionsPerAddress: parseCount(
        f.maxConnectionsPerAddress,
        '--max-connections-per-address',
      ),
    },
    graceMs: parseDuration(f.grace, '--grace'),
    encrypt: f.encrypt === true,
    workers: parseWorkers(f.workers),
    crl: crlSource(f),
    accessPath: f.access === undefined ? undefined : nonEmpty(f.access, '--access'),
    logFormat: f.logFormat,
    preface: prefacePolicy(f.proxyProtocol === true, f.trustedProxy),
    status: f.statusListen === undefined ? undefined : parseStatusListen(f.statusListen),
    reloadIntervalMs:
      f.reloadInterval === undefined
        ? undefined
        : parseDuration(f.reloadInterval, '--reload-interval'),
    http: f.http !== false,
    // The line protocol's request timeout bounds an HTTP request header the same way.
    httpLimits: {
      ...DEFAULT_HTTP_LIMITS,
      headerTimeoutMs: requestTimeoutMs,
      keepAliveIdleMs: parseDuration(f.keepAliveTimeout, '--keep-alive-timeout'),
      maxRequestsPerConnection: parseCount(
        f.maxRequestsPerConnection,
        '--max-requests-per-connection',
      ),
    },
  };
}

/**
 * `--status-listen PORT` (loopback, 127.0.0.1), `ADDR:PORT` or `[IPv6]:PORT`: where /healthz
 * and /metrics answer. Port 0 picks a free one (the log line `status listening` says which).
 */
export function parseStatusListen(text: string): { host: string; port: number } {
  const bad = (): UsageError =>
    new UsageError(
      `invalid --status-listen "${text}"`,
      'use PORT (on 127.0.0.1), ADDR:PORT or [IPv6]:PORT, e.g. 9100 or 0.0.0.0:9100',
    );
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(text);
  if (!m) throw bad();
  const host = m[1] ?? m[2] ?? '127.0.0.1';
  if (m[1] !== undefined && isIP(host) !== 6) throw bad();
  if (m[2] !== undefined && isIP(host) !== 4 && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) throw bad();
  const port = Number(m[3]);
  if (port > 65535) throw bad();
  return { host, port };
}

/**
 * `--proxy-protocol` needs at least one `--trusted-proxy`, and `--trusted-proxy` means nothing
 * without it: both mistakes would leave a server that trusts no one or everyone by surprise.
 */
export function prefacePolicy(
  proxyProtocol: boolean,
  trusted: string[] | undefined,
): PrefacePolicy {
  const list = (trusted ?? []).flatMap((t) => t.split(',')).map((t) => t.trim());
  if (!proxyProtocol) {
    if (list.length > 0) {
      throw new UsageError(
        '--trusted-proxy given without --proxy-protocol',
        'add --proxy-protocol to accept PROXY headers from these addresses',
      );
    }
    return { proxyProtocol: false };
  }
  if (list.length === 0) {
    throw new UsageError(
      '--proxy-protocol needs --trusted-proxy',
      'name the load balancers, e.g. --trusted-proxy 198.18.0.1 or --trusted-proxy 10.0.0.0/8',
    );
  }
  return { proxyProtocol: true, trustedProxies: list.map(parseCidr) };
}

/** `198.18.0.0/15`, `fd00::/8`, or one address (a /32 or /128), canonical prefix bits only. */
export function parseCidr(text: string): TrustedNetwork {
  const bad = (why: string): UsageError =>
    new UsageError(
      `invalid --trusted-proxy "${text}": ${why}`,
      'use an address or a network such as 198.18.0.0/15 or fd00::/8',
    );
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  const address = m?.[1] ?? '';
  const version = isIP(address);
  if (!m || version === 0) throw bad('not an IP address');
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max || (m[2] !== undefined && /^0\d/.test(m[2])))
    throw bad(`prefix must be 0 to ${max}`);
  return { address, prefix, family };
}

function nonEmpty(text: string, flag: string): string {
  if (text === '') throw new UsageError(`${flag} is empty`, 'pass a file path');
  return text;
}

/** Defaults of the `serve` flags, shown in --help and used when a flag is absent. */
export const SERVE_DEFAULTS = {
  root: './data',
  port: String(DEFAULT_PORT),
  tlsMax: '1.2',
  handshakeTimeout: `${DEFAULT_LIMITS.handshakeTimeoutMs / 1000}s`,
  requestTimeout: `${DEFAULT_LIMITS.requestTimeoutMs / 1000}s`,
  idleTimeout: `${DEFAULT_LIMITS.idleTimeoutMs / 1000}s`,
  maxConnections: String(DEFAULT_LIMITS.maxConnections),
  maxConnectionsPerAddress: String(DEFAULT_LIMITS.maxConnectionsPerAddress),
  keepAliveTimeout: `${DEFAULT_HTTP_LIMITS.keepAliveIdleMs / 1000}s`,
  maxRequestsPerConnection: String(DEFAULT_HTTP_LIMITS.maxRequestsPerConnection),
  grace: '60s',
  workers: '1',
} as const;

/** `get` flags as the CLI parser hands them over. */
export interface GetFlags extends PkiFlags {
  server: string;
  out?: string;
  quiet?: boolean;
  verbose?: boolean;
  decrypt?: boolean;
  from?: string;
  parallel?: string;
  continue?: boolean;
  keepPartial?: boolean;
  retries?: string;
  protocol?: string;
  /** commander's `--no-glob`: false when given. */
  glob?: boolean;
  retryConnrefused?: boolean;
}

/** `--protocol`: what `get` and `ls` offer by ALPN (docs/PROTOCOL.md §1). */
export type ProtocolChoice = 'auto' | 'http' | '1';

/** Transfers at a time when `-j` is not given. */
export const DEFAULT_PARALLEL = 8;
/** Most transfers at a time (the server's default per-address connection limit is 64). */
export const MAX_PARALLEL = 64;
/** Most `--retries`. */
export const MAX_RETRIES = 100;

/** `get` settings, validated. */
export interface GetOptions {
  /** Names and patterns from the command line, in order. */
  names: string[];
  /** `--from FILE` (`-`: standard input): more names, one per line. */
  from?: string | undefined;
  host: string;
  port: number;
  out?: string | undefined;
  material: MaterialPaths;
  verbose: boolean;
  /** Store the plaintext of an sstream-v1 body instead of the ciphertext. */
  decrypt: boolean;
  /** `-j N`: transfers at a time. */
  parallel: number;
  /** `--continue`: resume from a kept partial download. */
  resume: boolean;
  /** `--keep-partial` (or `--continue`): keep what arrived when a download fails. */
  keepPartial: boolean;
  /** `--retries N`: more attempts after network failures (0: none). */
  retries: number;
  protocol: ProtocolChoice;
  /** Whether `*`, `?`, `[…]` and `{…}` in a name make it a pattern (`--no-glob`: never). */
  glob: boolean;
  /** `--retry-connrefused`: wait for a server that is still starting. */
  waitForServer: boolean;
  signal?: AbortSignal;
}

export function parseProtocol(text: string): ProtocolChoice {
  if (text === 'auto' || text === 'http' || text === '1') return text;
  throw new UsageError(
    `invalid --protocol "${text}"`,
    'use auto (HTTP/1.1 when the server offers it), http, or 1 (the line protocol)',
  );
}

/** `--retries N`: 0..MAX_RETRIES. */
export function parseRetries(text: string): number {
  const n = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n > MAX_RETRIES) {
    throw new UsageError(
      `invalid --retries "${text}"`,
      `use a whole number from 0 to ${MAX_RETRIES}`,
    );
  }
  return n;
}

export function getOptions(names: string[], f: GetFlags): GetOptions {
  const { host, port } = parseHostPort(f.server, DEFAULT_PORT);
  if (names.length === 0 && f.from === undefined) {
    throw new UsageError(
      'nothing to get',
      'name files to fetch (NAME...) or a list of names (--from FILE)',
    );
  }
  const protocol = parseProtocol(f.protocol ?? 'auto');
  const resume = f.continue === true;
  const parallel = f.parallel === undefined ? DEFAULT_PARALLEL : parseCount(f.parallel, '-j');
  if (parallel > MAX_PARALLEL) {
    throw new UsageError(
      `invalid -j "${f.parallel ?? ''}"`,
      `use a number from 1 to ${MAX_PARALLEL}`,
    );
  }
  if (f.out === '-' && (names.length !== 1 || f.from !== undefined)) {
    throw new UsageError(
      '--out - takes exactly one NAME',
      'with several names, --out names a folder',
    );
  }
  if (f.out === '-' && (resume || f.keepPartial === true)) {
    throw new UsageError(
      `--out - cannot be combined with ${resume ? '--continue' : '--keep-partial'}`,
      'standard output keeps nothing to resume from: name an output file',
    );
  }
  if (f.out === '') throw new UsageError('--out is empty', 'pass a file or folder path');
  if (protocol === '1' && (resume || f.keepPartial === true)) {
    throw new UsageError(
      `--protocol 1 cannot be combined with ${resume ? '--continue' : '--keep-partial'}`,
      'resuming needs HTTP ranges: leave out --protocol 1',
    );
  }
  return {
    names: names.map(parseRemoteName),
    from: f.from,
    host,
    port,
    out: f.out,
    material: materialPaths(f, 'client'),
    verbose: f.verbose === true,
    decrypt: f.decrypt === true,
    parallel,
    resume,
    keepPartial: resume || f.keepPartial === true,
    retries: f.retries === undefined ? 0 : parseRetries(f.retries),
    protocol,
    glob: f.glob !== false,
    waitForServer: f.retryConnrefused === true,
  };
}

/** `ls` flags as the CLI parser hands them over. */
export interface LsFlags extends PkiFlags {
  server: string;
  long?: boolean;
  json?: boolean;
  retryConnrefused?: boolean;
}

/** `ls` settings, validated. */
export interface LsOptions {
  /** A folder (`''`: the root) or a pattern. */
  prefix: string;
  host: string;
  port: number;
  material: MaterialPaths;
  format: 'names' | 'long' | 'json';
  waitForServer: boolean;
  /**
   * Standard output is a terminal: names are shown with control characters escaped (as GNU ls
   * does); in a pipe they stay exact, for `get --from -`.
   */
  terminal?: boolean;
  signal?: AbortSignal;
}

export function lsOptions(prefix: string | undefined, f: LsFlags): LsOptions {
  const { host, port } = parseHostPort(f.server, DEFAULT_PORT);
  if (f.long === true && f.json === true) {
    throw new UsageError('--long cannot be combined with --json', 'choose one output format');
  }
  const trimmed = (prefix ?? '').replace(/\/+$/, '');
  return {
    prefix: trimmed === '' ? '' : parseRemoteName(trimmed),
    host,
    port,
    material: materialPaths(f, 'client'),
    format: f.json === true ? 'json' : f.long === true ? 'long' : 'names',
    waitForServer: f.retryConnrefused === true,
  };
}

/**
 * NAME of `get`, checked by the server's own rules (PROTOCOL-v1 §2.1) before anything is dialled:
 * a name the server would refuse is a usage error here, quoted on one line.
 */
export function parseRemoteName(name: string): string {
  try {
    checkName(name);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    if (name.endsWith('/') && name.length > 1) {
      // `get logs/`: a folder, asked for as one.
      throw new UsageError(
        `invalid name ${quotedName(name)}: a name cannot end with /`,
        `get fetches files; for the files of a folder, use a pattern: ${folderPattern(name)}`,
      );
    }
    throw new UsageError(
      `invalid name ${quotedName(name)}: ${e.message}`,
      `names are relative to the server's root: folders separated by /, no control characters, no . or .. segments, at most ${MAX_NAME_BYTES} bytes`,
    );
  }
  return name;
}

/** `pki init` flags as the CLI parser hands them over. */
export interface PkiInitFlags {
  dir: string;
  keyType: 'ec' | 'rsa';
  rsaBits: string;
  days: string;
  san: string[];
  client: string[];
  force?: boolean;
}

/** `securestream pki init` options, already parsed from flags. */
export type PkiInitOptions = Omit<InitPkiOptions, 'now'>;

/** `securestream pki issue-client NAME` options. */
export type PkiIssueClientOptions = Omit<IssueClientOptions, 'now'>;

/** `securestream pki revoke TARGET` options. */
export interface PkiRevokeOptions {
  dir: string;
  /** Client name or hex serial. */
  target: string;
  /** Aborting it removes the staged crl.pem (src/interrupt.ts). */
  signal?: AbortSignal | undefined;
}

/** `client.crt` is always made; each `--client NAME` adds NAME.crt beside it. */
export function pkiInitOptions(f: PkiInitFlags): PkiInitOptions {
  const bits = parseCount(f.rsaBits, '--rsa-bits');
  if (f.keyType === 'rsa' && (bits < 2048 || bits > 8192 || bits % 8 !== 0)) {
    throw new UsageError(`invalid --rsa-bits "${f.rsaBits}"`, 'use 2048, 3072 or 4096');
  }
  return {
    dir: f.dir,
    keyType: f.keyType,
    rsaBits: bits,
    days: parseCount(f.days, '--days'),
    sans: f.san,
    clients: ['client', ...f.client.filter((c) => c !== 'client')],
    force: f.force === true,
  };
}

/** `--workers N`: 1..64 processes; `auto` is one per CPU. */
export function parseWorkers(text: string): number {
  if (text === 'auto') return Math.max(1, availableParallelism());
  const n = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new UsageError(
      `invalid --workers "${text}"`,
      'use a number from 1 to 64, or auto (one per CPU)',
    );
  }
  return n;
}

/** Options of `securestream encrypt FILE`. */
export interface EncryptCommandOptions {
  /** Plaintext input path. */
  readonly file: string;
  /** `--to PATH` (repeatable): certificate or public-key PEM files; each becomes a recipient. */
  readonly to: readonly string[];
  /** `--passphrase-file PATH`: encrypt to the passphrase on its first line instead. */
  readonly passphraseFile?: string;
  /** `--out PATH`, default FILE.sst. */
  readonly out?: string;
  /** scrypt work factor for --passphrase-file (10..20, default 18). */
  readonly log2N?: number;
  /** Aborting it stops the command and removes the partial output (src/interrupt.ts). */
  readonly signal?: AbortSignal;
}

/** Options of `securestream decrypt FILE`. */
export interface DecryptCommandOptions {
  /** Encrypted input path. */
  readonly file: string;
  /** `--key PATH`: PEM private key. */
  readonly key?: string;
  /** `--pki DIR`: use DIR/client.key. */
  readonly pki?: string;
  /** `--passphrase-file PATH`: passphrase on the first line. */
  readonly passphraseFile?: string;
  /** `--out PATH`, default FILE without `.sst`, or FILE.out. */
  readonly out?: string;
  /** `--expect-sha256 HEX`: refuse the output unless the plaintext has this SHA-256. */
  readonly expectSha256?: string;
  /** Aborting it stops the command and removes the partial output (src/interrupt.ts). */
  readonly signal?: AbortSignal;
}

/** Byte-count units `--size` accepts: SI and IEC, case-insensitive. */
const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1000,
  KB: 1000,
  KIB: 1024,
  M: 1000 ** 2,
  MB: 1000 ** 2,
  MIB: 1024 ** 2,
  G: 1000 ** 3,
  GB: 1000 ** 3,
  GIB: 1024 ** 3,
  T: 1000 ** 4,
  TB: 1000 ** 4,
  TIB: 1024 ** 4,
};

/** Parses `1000`, `64KiB`, `64MiB`, `1GiB`, `1.5GB` into a byte count (a safe integer). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toUpperCase() ?? '';
  const mult = UNITS[unit];
  if (!m?.[1] || mult === undefined) {
    throw new UsageError(
      `invalid size "${text}"`,
      'use a byte count or a unit: 1000, 64KiB, 64MiB, 1GiB',
    );
  }
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n))
    throw new UsageError(`invalid size "${text}": not a whole number of bytes in range`);
  return n;
}
