import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createCa,
  issueCertificate,
  type IssuedCertificate,
  type KeySpec,
  type LeafOptions,
  type PemPair,
} from '../../src/pki/generate.js';

/** Absolute paths of a certificate and its private key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * Fixture PKI for TLS tests. `pki` is a valid `--pki` folder (ca.crt, ca.key, server.*,
 * client.*) whose files are also listed as `ca`, `server` and `client`. Every client below is
 * issued by `ca` unless its name says otherwise; all keys are EC P-256 unless named.
 */
export interface TestPki {
  dir: string;
  /** dir/pki: ca.crt, ca.key, server.crt, server.key, client.crt, client.key. */
  pki: string;
  /** ca.crt (EC P-256). */
  ca: string;
  caKey: string;
  /** serverAuth for localhost, 127.0.0.1 and ::1. */
  server: CertFiles;
  /** clientAuth, CN=client. */
  client: CertFiles;
  /** clientAuth, CN=client2. */
  client2: CertFiles;
  rsaClient: CertFiles;
  rsa3072Client: CertFiles;
  p384Client: CertFiles;
  ed25519Client: CertFiles;
  rsaPssClient: CertFiles;
  rsa1024Client: CertFiles;
  /** Expired a day ago. */
  expiredClient: CertFiles;
  /** Valid from tomorrow. */
  notYetValidClient: CertFiles;
  /** EKU serverAuth only (a server certificate) offered as a client certificate. */
  noClientAuth: CertFiles;
  /** A second CA with the same common name as `ca` but its own key. */
  rogueCa: string;
  rogueClient: CertFiles;
  /** An RSA-2048 CA with an RSA server (localhost, 127.0.0.1, ::1) and client. */
  rsaCa: string;
  rsaServer: CertFiles;
  rsaCaClient: CertFiles;
  /** From `ca`, serverAuth for "other.example" only. */
  wrongHostServer: CertFiles;
}

const DAY = 24 * 60 * 60 * 1000;
const cache = new Map<string, Promise<TestPki>>();

/**
 * Creates (once per process and folder) the fixture PKI in `dir`; later calls with the same
 * folder return the same promise. Key pairs are generated concurrently.
 */
export function makeTestPki(dir: string): Promise<TestPki> {
  const abs = resolve(dir);
  let made = cache.get(abs);
  if (!made) {
    made = build(abs);
    cache.set(abs, made);
  }
  return made;
}

async function build(dir: string): Promise<TestPki> {
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const valid = { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) };
  const caValid = { notBefore: new Date(now - 60 * DAY), notAfter: new Date(now + 3650 * DAY) };
  const ec: KeySpec = { kind: 'ec', curve: 'P-256' };
  const rsa: KeySpec = { kind: 'rsa', bits: 2048 };
  const hostNames = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

  const [ca, rogueCa, rsaCa] = await Promise.all([
    createCa({ commonName: 'securestream test CA', keySpec: ec, ...caValid }),
    createCa({ commonName: 'securestream test CA', keySpec: ec, ...caValid }),
    createCa({ commonName: 'securestream test RSA CA', keySpec: rsa, ...caValid }),
  ]);
  const client = (name: string, keySpec: KeySpec, extra: Partial<LeafOptions> = {}) =>
    issueCertificate(ca, { kind: 'client', commonName: name, keySpec, ...valid, ...extra });

  const entries: Record<string, Promise<PemPair>> = {
    'pki/server': issueCertificate(ca, {
      kind: 'server',
      commonName: 'localhost',
      keySpec: ec,
      ...hostNames,
      ...valid,
    }),
    'pki/client': client('client', ec),
    client2: client('client2', ec),
    rsaClient: client('rsaClient', rsa),
    rsa3072Client: client('rsa3072Client', { kind: 'rsa', bits: 3072 }),
    p384Client: client('p384Client', { kind: 'ec', curve: 'P-384' }),
    ed25519Client: client('ed25519Client', { kind: 'ed25519' }),
    rsaPssClient: client('rsaPssClient', { kind: 'rsa-pss', bits: 2048 }),
    rsa1024Client: client('rsa1024Client', { kind: 'rsa', bits: 1024 }),
    expiredClient: client('expiredClient', ec, {
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now - DAY),
    }),
    notYetValidClient: client('notYetValidClient', ec, {
      notBefore: new Date(now + DAY),
      notAfter: new Date(now + 30 * DAY),
    }),
    noClientAuth: client('noClientAuth', ec, { kind: 'server', ...hostNames }),
    rogueClient: issueCertificate(rogueCa, {
      kind: 'client',
      commonName: 'client',
      keySpec: ec,
      ...valid,
    }),
    rsaServer: issueCertificate(rsaCa, {
      kind: 'server',
      commonName: 'localhost',
      keySpec: rsa,
      ...hostNames,
      ...valid,
    }),
    rsaCaClient: issueCertificate(rsaCa, {
      kind: 'client',
      commonName: 'rsaCaClient',
      keySpec: rsa,
      ...valid,
    }),
    wrongHostServer: client('other.example', ec, {
      kind: 'server',
      dnsNames: ['other.example'],
    }),
  };
  const files: Record<string, CertFiles> = {};
  await Promise.all([
    writePair(join(pki, 'ca'), ca),
    writePair(join(dir, 'rogue-ca'), rogueCa),
    writePair(join(dir, 'rsa-ca'), rsaCa),
    ...Object.entries(entries).map(async ([name, made]) => {
      files[name] = await writePair(join(dir, name), await made);
    }),
  ]);
  const get = (name: string): CertFiles => files[name] as CertFiles;
  return {
    dir,
    pki,
    ca: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    server: get('pki/server'),
    client: get('pki/client'),
    client2: get('client2'),
    rsaClient: get('rsaClient'),
    rsa3072Client: get('rsa3072Client'),
    p384Client: get('p384Client'),
    ed25519Client: get('ed25519Client'),
    rsaPssClient: get('rsaPssClient'),
    rsa1024Client: get('rsa1024Client'),
    expiredClient: get('expiredClient'),
    notYetValidClient: get('notYetValidClient'),
    noClientAuth: get('noClientAuth'),
    rogueCa: join(dir, 'rogue-ca.crt'),
    rogueClient: get('rogueClient'),
    rsaCa: join(dir, 'rsa-ca.crt'),
    rsaServer: get('rsaServer'),
    rsaCaClient: get('rsaCaClient'),
    wrongHostServer: get('wrongHostServer'),
  };
}

async function writePair(base: string, pair: PemPair): Promise<CertFiles> {
  const files = { cert: `${base}.crt`, key: `${base}.key` };
  await writeFile(files.cert, pair.certPem, { mode: 0o644 });
  await writeFile(files.key, pair.keyPem, { mode: 0o600 });
  return files;
}

/** Result of {@link openssl}. */
export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `openssl` binary synchronously; tests assert on status and output. */
export function openssl(args: string[], cwd?: string): OpensslResult {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh empty folder under the OS temp dir; remove it with `rm(dir, {recursive: true})`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `securestream-${prefix}-`));
}

/** One more certificate from the test PKI's CA, for a case the fixture set lacks. */
export async function issueFromTestCa(pki: TestPki, opts: LeafOptions): Promise<IssuedCertificate> {
  const ca = { certPem: await readFile(pki.ca, 'utf8'), keyPem: await readFile(pki.caKey, 'utf8') };
  return issueCertificate(ca, opts);
}
