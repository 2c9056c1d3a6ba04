/**
 * PKI folders: the layout (`ca.crt`, `ca.key`, `server.*`, `NAME.*`, `crl.pem`), `pki init`,
 * `pki issue-client`, reading the folder's CA, and writing files so they appear only whole.
 */
import { randomBytes, type KeyObject, type X509Certificate } from 'node:crypto';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { AtomicFile } from '../atomic.js';
import { SecureStreamError, UsageError, errnoCode } from '../errors.js';
import { canonicalIp } from './altnames.js';
import { assertKeyMatches, assertValidAt } from './checks.js';
import { isCaCertificate, issued } from './describe.js';
import {
  createCa,
  issueCertificate,
  keySpecFor,
  keySpecOf,
  type KeySpec,
  type KeyType,
  type PemPair,
} from './generate.js';
import { CRL_FILE } from './paths.js';
import { parseCertificates, parsePrivateKey, pkcs8, readPemFile } from './pem.js';

/** Leaf lifetime when none is asked for: 825 days, the old CA/Browser Forum maximum. */
export const DEFAULT_LEAF_DAYS = 825;
/** CA lifetime: ten years, or the leaf lifetime when that is longer, so leaves never outlive it. */
export const DEFAULT_CA_DAYS = 3650;
/** Upper bound on --days: a hundred years. */
export const MAX_DAYS = 36500;
/** notBefore is set this far in the past so peers with slightly slow clocks accept new certs. */
export const BACKDATE_MS = 5 * 60 * 1000;
/** Names the server certificate always carries, so local tests work out of the box. */
export const DEFAULT_SERVER_NAMES = ['localhost', '127.0.0.1', '::1'];

const DAY_MS = 24 * 60 * 60 * 1000;
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED_NAMES = new Set(['ca', 'server']);
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Options of {@link initPki}. */
export interface InitPkiOptions {
  dir: string;
  /** Default 'ec' (P-256). */
  keyType?: KeyType;
  /** RSA modulus for every key when keyType is 'rsa'; default 2048, 2048-16384 allowed. */
  rsaBits?: number;
  /** Leaf validity in days; default {@link DEFAULT_LEAF_DAYS}. */
  days?: number;
  /** Extra server names: IPv4/IPv6 addresses or DNS names (a leading "*." is allowed). */
  sans?: string[];
  /** Client certificates to issue; default ['client']. */
  clients?: string[];
  /** Replace existing files (and remove a crl.pem of the replaced CA). */
  force?: boolean;
  now?: Date;
  /** Aborting it removes the files staged so far and stops the write (src/interrupt.ts). */
  signal?: AbortSignal | undefined;
}

/** What {@link initPki} wrote. */
export interface InitPkiResult {
  dir: string;
  keySpec: KeySpec;
  /** Every file written, in order: ca, server, then clients (.crt before .key). */
  files: string[];
  /** DNS names and IP addresses of the server certificate. */
  serverNames: string[];
  clients: string[];
  caNotAfter: Date;
  leafNotAfter: Date;
  /** Files of the replaced PKI that were deleted (only crl.pem, only with force). */
  removed: string[];
  /**
   * With `force`: NAME.crt and NAME.key of leaves the replaced CA issued that this init did not
   * write again, removed (they can never verify against the new CA).
   */
  orphans: string[];
}

/** Options of {@link issueClient}. */
export interface IssueClientOptions {
  dir: string;
  name: string;
  /** Default {@link DEFAULT_LEAF_DAYS}. */
  days?: number;
  /** Default: the CA's own algorithm (same curve, or same RSA size unless rsaBits is given). */
  keyType?: KeyType;
  rsaBits?: number;
  now?: Date;
  /** Aborting it removes the files staged so far and stops the write (src/interrupt.ts). */
  signal?: AbortSignal | undefined;
}

/** What {@link issueClient} wrote. */
export interface IssueClientResult {
  certPath: string;
  keyPath: string;
  serialHex: string;
  keySpec: KeySpec;
  notAfter: Date;
}

/** A CA read from a PKI folder, checked to be a CA whose key matches. */
export interface LoadedCa extends PemPair {
  cert: X509Certificate;
  key: KeyObject;
  certPath: string;
  keyPath: string;
}

/**
 * Creates a complete PKI in `dir`: ca.crt/ca.key, server.crt/server.key (serverAuth for
 * localhost, 127.0.0.1, ::1 and `sans`) and NAME.crt/NAME.key per client (clientAuth).
 * Everything is generated in memory first and then written via temporary files, so a failure
 * leaves the folder as it was. Keys are PKCS#8 PEM, mode 0600; certificates 0644.
 * Throws UsageError for bad options and pki-exists when a file is there and `force` is unset.
 */
export async function initPki(opts: InitPkiOptions): Promise<InitPkiResult> {
  const days = checkDays(opts.days ?? DEFAULT_LEAF_DAYS);
  const keySpec = keySpecFor(opts.keyType ?? 'ec', opts.rsaBits);
  const serverNames = serverNamesFor(opts.sans ?? []);
  const clients = checkClientNames(opts.clients ?? ['client']);
  const names = ['ca', 'server', ...clients];
  const targets = names.flatMap((n) => [join(opts.dir, `${n}.crt`), join(opts.dir, `${n}.key`)]);
  const crlPath = join(opts.dir, CRL_FILE);
  if (!opts.force) await assertAbsent([...targets, crlPath], 'use --force to replace it');
  else await assertReplaceable(targets);
  const oldCa = opts.force ? await readOldCa(join(opts.dir, 'ca.crt')) : undefined;

  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const leafNotAfter = new Date(now.getTime() + days * DAY_MS);
  const caNotAfter = new Date(now.getTime() + Math.max(DEFAULT_CA_DAYS, days) * DAY_MS);
  const ca = await createCa({
    commonName: `securestream CA ${randomBytes(4).toString('hex')}`,
    keySpec,
    notBefore,
    notAfter: caNotAfter,
  });
  const leaf = { keySpec, notBefore, notAfter: leafNotAfter };
  const dnsNames = serverNames.filter((n) => isIP(n) === 0);
  const ipAddresses = serverNames.filter((n) => isIP(n) !== 0);
  const issued = await Promise.all([
    issueCertificate(ca, {
      ...leaf,
      kind: 'server',
      commonName: 'securestream server',
      dnsNames,
      ipAddresses,
    }),
    ...clients.map((name) => issueCertificate(ca, { ...leaf, kind: 'client', commonName: name })),
  ]);
  const pairs = [ca, ...issued];
  const files = pairs.flatMap((p, i) => pemFiles(opts.dir, names[i] as string, p));

  opts.signal?.throwIfAborted();
  await makePkiDir(opts.dir);
  await writeFilesAtomically(files, opts.signal);
  const removed: string[] = [];
  if (opts.force && (await pathExists(crlPath))) {
    // a CRL signed by the replaced CA would make servers reject every client
    await unlink(crlPath).catch((e: unknown) => {
      throw writeError(e, crlPath);
    });
    removed.push(crlPath);
  }
  const orphans = oldCa ? await removeOrphans(opts.dir, oldCa, new Set(names)) : [];
  return {
    dir: opts.dir,
    keySpec,
    files: files.map((f) => f.path),
    serverNames,
    clients,
    caNotAfter,
    leafNotAfter,
    removed,
    orphans,
  };
}

/** The certificate of the CA `init --force` replaces, when there is one that parses. */
async function readOldCa(path: string): Promise<X509Certificate | undefined> {
  if (!(await pathExists(path))) return undefined;
  try {
    return parseCertificates(await readPemFile(path), path)[0];
  } catch {
    return undefined; // not a CA we can recognise leaves of: nothing is removed
  }
}

/**
 * Removes NAME.crt for every leaf in `dir` signed by `oldCa` whose NAME is not in `keep`, and
 * NAME.key beside it when it is that certificate's key. Returns the paths removed.
 */
async function removeOrphans(
  dir: string,
  oldCa: X509Certificate,
  keep: ReadonlySet<string>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    const name = entry.slice(0, -'.crt'.length);
    if (!entry.endsWith('.crt') || keep.has(name)) continue;
    const certPath = join(dir, entry);
    const keyPath = join(dir, `${name}.key`);
    let cert: X509Certificate | undefined;
    try {
      cert = parseCertificates(await readPemFile(certPath), certPath)[0];
    } catch {
      continue; // not ours to judge
    }
    if (!cert || !issued(oldCa, cert)) continue;
    let ownKey = false;
    try {
      ownKey = cert.checkPrivateKey(parsePrivateKey(await readPemFile(keyPath), keyPath));
    } catch {
      ownKey = false; // absent or unreadable: left alone
    }
    for (const path of ownKey ? [certPath, keyPath] : [certPath]) {
      await unlink(path).catch((e: unknown) => {
        throw writeError(e, path);
      });
      removed.push(path);
    }
  }
  return removed;
}

/**
 * Issues one more client certificate from the CA in `dir` and writes NAME.crt/NAME.key.
 * Refuses (pki-exists) when either file exists; the CA must be valid and match its key.
 */
export async function issueClient(opts: IssueClientOptions): Promise<IssueClientResult> {
  const [name] = checkClientNames([opts.name]) as [string];
  const days = checkDays(opts.days ?? DEFAULT_LEAF_DAYS);
  const certPath = join(opts.dir, `${name}.crt`);
  const keyPath = join(opts.dir, `${name}.key`);
  await assertAbsent(
    [certPath, keyPath],
    'choose another name, or revoke the old certificate and delete its files first',
  );
  const ca = await loadCaFromDir(opts.dir);
  const now = opts.now ?? new Date();
  assertValidAt(ca.cert, now, `certificate "${ca.certPath}"`);
  let keySpec = keySpecOf(ca.key);
  if (opts.keyType !== undefined || opts.rsaBits !== undefined) {
    const rsaBits = opts.rsaBits ?? (keySpec.kind === 'rsa' ? keySpec.bits : undefined);
    keySpec = keySpecFor(opts.keyType ?? keySpec.kind, rsaBits);
  }
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  const issued = await issueCertificate(ca, {
    kind: 'client',
    commonName: name,
    keySpec,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
  });
  await writeFilesAtomically(pemFiles(opts.dir, name, issued), opts.signal);
  return { certPath, keyPath, serialHex: issued.serialHex, keySpec, notAfter };
}

/** Reads ca.crt and ca.key of a PKI folder; pki-invalid if ca.crt is no CA certificate. */
export async function loadCaFromDir(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  const [certPem, keyText] = await Promise.all([readPemFile(certPath), readPemFile(keyPath)]);
  const cert = parseCertificates(certPem, certPath)[0] as X509Certificate;
  if (!isCaCertificate(cert)) {
    throw new SecureStreamError('pki-invalid', `"${certPath}" is not a CA certificate`);
  }
  const key = parsePrivateKey(keyText, keyPath);
  assertKeyMatches(key, cert, keyPath, certPath);
  return { cert, key, certPath, keyPath, certPem: cert.toString(), keyPem: pkcs8(key) };
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new UsageError(`invalid validity of ${days} days: expected a whole number 1-${MAX_DAYS}`);
  }
  return days;
}

/**
 * Validates client names, which become file names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, not
 * "ca" or "server", no duplicates (both compared case-insensitively, for case-insensitive
 * file systems).
 */
export function checkClientNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const name of names) {
    if (!CLIENT_NAME.test(name)) {
      throw new UsageError(
        `invalid client name "${name}"`,
        'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      );
    }
    const folded = name.toLowerCase();
    if (RESERVED_NAMES.has(folded)) {
      throw new UsageError(`client name "${name}" is reserved for the ${folded} files`);
    }
    if (seen.has(folded)) throw new UsageError(`client name "${name}" is given twice`);
    seen.add(folded);
  }
  if (names.length === 0) throw new UsageError('at least one client name is needed');
  return [...names];
}

/** The server certificate's names: the defaults plus `sans`, validated, deduplicated. */
export function serverNamesFor(sans: readonly string[]): string[] {
  const out = [...DEFAULT_SERVER_NAMES];
  for (const san of sans) {
    const name = normalizeSan(san);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Normalises one server name: an IPv4/IPv6 address (canonical form, no zone) or a DNS name
 * (lower case, labels of letters, digits and inner hyphens, optional leading "*."). UsageError
 * for anything else.
 */
export function normalizeSan(san: string): string {
  if (isIP(san) !== 0 && !san.includes('%')) return canonicalIp(san);
  const name = san.toLowerCase();
  const labels = name.split('.');
  const first = labels[0] === '*' && labels.length > 2 ? 1 : 0;
  const last = labels[labels.length - 1] ?? '';
  const ok =
    name.length <= 253 &&
    labels.slice(first).every((l) => DNS_LABEL.test(l)) &&
    !/^[0-9]+$/.test(last); // an all-digit last label is a mistyped address, never a TLD
  if (!ok) {
    throw new UsageError(
      `invalid server name "${san}": not an ip address or dns name`,
      'e.g. --san files.example.com --san 10.0.0.5',
    );
  }
  return name;
}

/** One file of a PKI folder: content and creation mode. */
export interface PkiFile {
  path: string;
  data: string;
  mode: number;
}

function pemFiles(dir: string, name: string, pair: PemPair): PkiFile[] {
  return [
    { path: join(dir, `${name}.crt`), data: pair.certPem, mode: 0o644 },
    { path: join(dir, `${name}.key`), data: pair.keyPem, mode: 0o600 },
  ];
}

async function assertAbsent(paths: readonly string[], hint: string): Promise<void> {
  for (const path of paths) {
    if (await pathExists(path)) {
      throw new SecureStreamError('pki-exists', `"${path}" already exists`, hint);
    }
  }
}

/** With --force, refuse up front what a rename could not replace, so no half-replaced PKI. */
async function assertReplaceable(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const st = await lstat(path).catch((e: unknown) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw writeError(e, path);
    });
    if (st?.isDirectory()) {
      throw new SecureStreamError(
        'pki-write-failed',
        `cannot replace "${path}": it is a directory`,
      );
    }
  }
}

async function makePkiDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw writeError(e, dir);
  }
}

/**
 * Writes files so that they appear only complete: each goes to an AtomicFile (a temporary file
 * beside its target, mode 0600 until the rename gives it its own) and is fsynced; only when
 * all are written are they renamed into place. On failure, and when `signal` aborts, the
 * temporary files are removed.
 */
export async function writeFilesAtomically(
  files: readonly PkiFile[],
  signal?: AbortSignal,
): Promise<void> {
  const staged: AtomicFile[] = [];
  let current = '';
  try {
    for (const f of files) {
      current = f.path;
      const file = await AtomicFile.create(f.path, { mode: f.mode, signal });
      staged.push(file);
      await file.handle.writeFile(f.data);
      await file.handle.sync();
    }
    for (const file of staged) {
      current = file.path;
      await file.commit();
    }
  } catch (e) {
    await Promise.all(staged.map((file) => file.abort()));
    signal?.throwIfAborted();
    // AtomicFile words errors for a download's --out; a PKI write says it in its own terms.
    throw writeError(
      e instanceof SecureStreamError && e.cause !== undefined ? e.cause : e,
      current,
    );
  }
}

function writeError(e: unknown, path: string): SecureStreamError {
  const code = errnoCode(e);
  const why =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? 'permission denied or read-only file system'
      : code === 'ENOSPC'
        ? 'no space left on the device'
        : e instanceof Error
          ? e.message
          : String(e);
  return new SecureStreamError('pki-write-failed', `cannot write "${path}": ${why}`, undefined, {
    cause: e,
  });
}

/**
 * Whether something exists at `path` (a dangling symlink counts). Any error other than
 * ENOENT is `pki-unreadable`: a PKI file that cannot be checked must not be taken as absent.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw new SecureStreamError('pki-unreadable', `cannot read "${path}"`, undefined, { cause: e });
  }
}
