/**
 * Flags → typed, validated settings, in one place. Nothing here touches the network; each check
 * is a small function whose error names the flags involved.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';
import { WireError, checkName } from './protocol.js';
import { pkiPaths, type Role } from './pki/load.js';
import { DEFAULT_LIMITS } from './transport/limits.js';
import { parseHostPort, type TlsMax } from './transport/tls.js';
import type { ServeOptions } from './commands/serve.js';
import type { CrlSource } from './revocation.js';
import type { GetOptions } from './commands/get.js';
import type { PkiInitOptions } from './commands/pki.js';

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

export function parseTlsMax(text: string): TlsMax {
  if (text === '1.2' || text === '1.3') return text;
  throw new UsageError(`invalid --tls-max "${text}"`, 'use 1.2 or 1.3');
}

export function parseCipherList(text: string): string[] {
  const list = text.split(/[:,\s]+/).filter(Boolean);
  if (list.length === 0) throw new UsageError('--ciphers is empty');
  return list;
}

export function parseHost(text: string): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(bare) || /^[A-Za-z0-9.-]{1,253}$/.test(bare)) return bare;
  throw new UsageError(`invalid --host "${text}"`, 'use an IP address or a host name');
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
  grace: string;
  encrypt?: boolean;
  workers: string;
  crl?: string;
  access?: string;
  logFormat?: 'json' | 'pretty';
}

/** `--crl FILE`; else, with a PKI folder, its crl.pem whenever it exists; else none. */
export function crlSource(f: ServeFlags): CrlSource {
  if (f.crl !== undefined) {
    if (f.crl === '') throw new UsageError('--crl is empty', 'pass the path of a pem crl');
    return { kind: 'explicit', path: f.crl };
  }
  const explicitMaterial = f.ca !== undefined || f.cert !== undefined || f.key !== undefined;
  return explicitMaterial ? { kind: 'none' } : { kind: 'pki', dir: f.pki ?? 'pki' };
}

export function serveOptions(f: ServeFlags): ServeOptions {
  return {
    root: f.root,
    host: f.host === undefined ? undefined : parseHost(f.host),
    port: parsePort(f.port),
    material: materialPaths(f, 'server'),
    ciphers: f.ciphers === undefined ? undefined : parseCipherList(f.ciphers),
    tlsMax: parseTlsMax(f.tlsMax),
    limits: {
      handshakeTimeoutMs: parseDuration(f.handshakeTimeout, '--handshake-timeout'),
      requestTimeoutMs: parseDuration(f.requestTimeout, '--request-timeout'),
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
  };
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
}

export function getOptions(name: string, f: GetFlags): GetOptions {
  const { host, port } = parseHostPort(f.server, DEFAULT_PORT);
  return {
    name: parseRemoteName(name),
    host,
    port,
    out: f.out,
    material: materialPaths(f, 'client'),
    verbose: f.verbose === true,
    decrypt: f.decrypt === true,
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
    throw new UsageError(
      `invalid name ${JSON.stringify(name)}: ${e.message}`,
      "names are relative to the server's root: folders separated by /, no control characters, no . or .. segments",
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
