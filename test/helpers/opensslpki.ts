/**
 * PKIs as operators make them: the openssl CLI (`genpkey`, `req`, `ca`), never our own code.
 * Roots, intermediates, leaves, revocations and CRLs, with dates in the past or future, v1
 * certificates and extension sets chosen per certificate.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Key algorithms, as `openssl genpkey` makes them. */
export type KeyAlg =
  | 'p256'
  | 'p384'
  | 'p521'
  | 'secp256k1'
  | 'ed25519'
  | 'rsa1024'
  | 'rsapss2048'
  | 'rsa2048'
  | 'rsa3072'
  | 'rsa4096';

const GENPKEY: Record<KeyAlg, string[]> = {
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  secp256k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  ed25519: ['-algorithm', 'ED25519'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsapss2048: ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa3072: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  rsa4096: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'],
};

/** Extension sets for `openssl ca -extfile`. */
export const EXT = {
  root: 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  /** A root as some old PKIs have it: keyCertSign but no basicConstraints. */
  rootNoBasicConstraints: 'keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  intermediate:
    'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' +
    'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n',
  server:
    'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
    'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n',
  client:
    'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' +
    'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n',
  /** clientAuth, but a keyUsage that forbids signing. */
  clientNoSignature:
    'basicConstraints=CA:false\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=clientAuth\n' +
    'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n',
  /** serverAuth only: a server certificate presented as a client one. */
  serverOnlyAsClient:
    'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
    'authorityKeyIdentifier=keyid,issuer\n',
} as const;

/** A certificate and its key, as files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A CA: its files and its `openssl ca` database. */
export interface CaFiles extends CertFiles {
  name: string;
  config: string;
}

/** Validity as `openssl ca` takes it: YYYYMMDDHHMMSSZ, or days from now (negative: past). */
export type When = string | number;

export interface IssueOptions {
  cn?: string;
  alg?: KeyAlg;
  /** Extensions; null writes a version 1 certificate (no extensions at all). */
  ext: string | null;
  start?: When;
  end?: When;
}

/** Runs openssl; throws with its stderr when it fails. */
export function opensslRun(args: string[], cwd?: string): string {
  return execFileSync('openssl', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024, // `openssl crl -text` of a 100,000-entry list
  });
}

/** openssl's date form for `when`. */
export function opensslDate(when: When): string {
  if (typeof when === 'string') return when;
  const d = new Date(Date.now() + when * 86_400_000);
  return `${d.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}

export class OpensslPki {
  private readonly keys = new Map<KeyAlg, string>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A fresh private key (PKCS#8 PEM file); RSA keys of 3072 bits and more are made once. */
  key(alg: KeyAlg, name: string): string {
    const shared = alg === 'rsa3072' || alg === 'rsa4096';
    const cached = shared ? this.keys.get(alg) : undefined;
    if (cached) return cached;
    const path = join(this.dir, `${name}.key`);
    opensslRun(['genpkey', ...GENPKEY[alg], '-out', path]);
    if (shared) this.keys.set(alg, path);
    return path;
  }

  /** A self-signed root (version 1 when `ext` is null). */
  root(name: string, opts: IssueOptions = { ext: EXT.root }): CaFiles {
    const key = this.key(opts.alg ?? 'p256', name);
    const config = this.caDatabase(name);
    const signer = ['-config', config, '-selfsign', '-keyfile', key];
    const cert = this.sign(signer, name, key, opts, 3650);
    return { name, cert, key, config };
  }

  /** A certificate issued by `ca`; with CA extensions it can issue in turn. */
  issue(ca: CaFiles, name: string, opts: IssueOptions): CaFiles {
    const key = this.key(opts.alg ?? 'p256', name);
    const signer = ['-config', ca.config, '-cert', ca.cert, '-keyfile', ca.key];
    const cert = this.sign(signer, name, key, opts, 365);
    const config = opts.ext?.includes('CA:true') ? this.caDatabase(name) : '';
    return { name, cert, key, config };
  }

  /** Marks `cert` revoked in `ca`'s database (reason keyCompromise, as many CAs record it). */
  revoke(ca: CaFiles, cert: CertFiles): void {
    opensslRun([
      'ca',
      '-config',
      ca.config,
      '-revoke',
      cert.cert,
      '-crl_reason',
      'keyCompromise',
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
    ]);
  }

  /**
   * `openssl ca -gencrl`: no authority key identifier unless `aki`, as openssl's default
   * configuration makes them; `crlexts` names another extension section of `ca.config`;
   * lastUpdate/nextUpdate as given (default now / in 30 days).
   */
  crl(
    ca: CaFiles,
    name: string,
    opts: { aki?: boolean; crlexts?: string; last?: When; next?: When } = {},
  ): string {
    const crlexts = opts.aki ? 'crl_aki' : opts.crlexts;
    const out = join(this.dir, `${name}.crl.pem`);
    opensslRun([
      'ca',
      '-config',
      ca.config,
      '-gencrl',
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-out',
      out,
      ...(crlexts === undefined ? [] : ['-crlexts', crlexts]),
      ...(opts.last === undefined ? [] : ['-crl_lastupdate', opensslDate(opts.last)]),
      ...(opts.next === undefined ? [] : ['-crl_nextupdate', opensslDate(opts.next)]),
    ]);
    return out;
  }

  /** Concatenates PEM files into a new one. */
  concat(name: string, ...paths: string[]): string {
    const out = join(this.dir, name);
    writeFileSync(out, paths.map((p) => readFileSync(p, 'utf8')).join(''));
    return out;
  }

  /** `openssl ca` on a fresh request for `key`; `signer` names the CA; `days` is the default end. */
  private sign(
    signer: string[],
    name: string,
    key: string,
    opts: IssueOptions,
    days: number,
  ): string {
    const cert = join(this.dir, `${name}.crt`);
    const csr = this.request(name, key, opts.cn ?? name);
    opensslRun([
      'ca',
      ...signer,
      '-batch',
      '-notext',
      '-in',
      csr,
      '-out',
      cert,
      ...this.extArgs(name, opts.ext),
      ...this.dates(opts, days),
    ]);
    return cert;
  }

  private request(name: string, key: string, cn: string): string {
    const csr = join(this.dir, `${name}.csr`);
    opensslRun(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
    return csr;
  }

  private extArgs(name: string, ext: string | null): string[] {
    if (ext === null) return [];
    const file = join(this.dir, `${name}.ext`);
    writeFileSync(file, ext);
    return ['-extfile', file];
  }

  private dates(opts: IssueOptions, days: number): string[] {
    return ['-startdate', opensslDate(opts.start ?? -1), '-enddate', opensslDate(opts.end ?? days)];
  }

  /** An `openssl ca` database; serials start at a random value so two CAs never share one. */
  private caDatabase(name: string): string {
    const db = join(this.dir, `${name}.db`);
    mkdirSync(join(db, 'new'), { recursive: true });
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'serial'), `${randomBytes(8).toString('hex').replace(/^./, '4')}\n`);
    writeFileSync(join(db, 'crlnumber'), '01\n');
    const config = join(db, 'openssl.cnf');
    writeFileSync(
      config,
      [
        '[ ca ]',
        'default_ca = this',
        '[ this ]',
        `database = ${join(db, 'index.txt')}`,
        `new_certs_dir = ${join(db, 'new')}`,
        `serial = ${join(db, 'serial')}`,
        `crlnumber = ${join(db, 'crlnumber')}`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'email_in_dn = no',
        'default_crl_days = 30',
        '[ any ]',
        'commonName = supplied',
        '[ crl_aki ]',
        'authorityKeyIdentifier = keyid:always',
        '',
      ].join('\n'),
    );
    return config;
  }
}
