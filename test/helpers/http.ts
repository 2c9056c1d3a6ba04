/**
 * Driving real HTTP clients (curl, wget, aria2c, python3) against a server in tests: their
 * TLS arguments, their header dumps, and whether they are installed at all (CI installs them
 * from Debian's packages in .ci/run; elsewhere their tests skip and say why).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EXT, OpensslPki } from './opensslpki.js';
import type { CertFiles } from './pki.js';
import { run, startServer, tempDir, type RunResult, type ServerProcess } from './proc.js';

/** Why a test cannot run here (a missing client), or false. */
export function missing(...commands: string[]): string | false {
  const absent = commands.filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  return absent.length ? `not installed: ${absent.join(', ')} (.ci/run installs it)` : false;
}

/** `--cacert CA [--cert C --key K]` for curl. */
export function curlTls(ca: string, client?: CertFiles): string[] {
  return ['--cacert', ca, ...(client ? ['--cert', client.cert, '--key', client.key] : [])];
}

/** curl, silent but showing errors, never reading ~/.curlrc. */
export function curl(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run('curl', ['-q', '-sS', ...args], opts);
}

export interface ResponseHead {
  /** `1.1` or `2`. */
  version: string;
  status: number;
  /** Field names lower-cased; a repeated field keeps its last value. */
  fields: Record<string, string>;
}

/** The responses in a `curl -D FILE` dump, in order (redirects and 100s included). */
export function parseHeaderDump(text: string): ResponseHead[] {
  const heads: ResponseHead[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter(Boolean);
    const m = /^HTTP\/([0-9.]+) (\d{3})/.exec(lines[0] ?? '');
    if (!m?.[1] || !m[2]) continue;
    const fields: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) fields[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    heads.push({ version: m[1], status: Number(m[2]), fields });
  }
  return heads;
}

/** The last response of a dump file. */
export async function lastHead(dumpPath: string): Promise<ResponseHead> {
  const heads = parseHeaderDump(await readFile(dumpPath, 'latin1'));
  const last = heads[heads.length - 1];
  if (!last) throw new Error(`no response head in ${dumpPath}`);
  return last;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `sha-256=:<base64>:` for lower-case hex, as Repr-Digest carries it. */
export function reprDigestOf(hex: string): string {
  return `sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`;
}

export interface Fetched {
  code: number | null;
  stderr: string;
  stdout: string;
  /** The last response head curl saw (undefined when none came). */
  head: ResponseHead | undefined;
  /** The body curl stored (empty when it stored none). */
  body: Buffer;
}

let fetches = 0;

/** curl ARGS with the head dumped and the body stored in files under `scratch`, both read back. */
export async function curlFetch(scratch: string, args: string[]): Promise<Fetched> {
  const n = fetches++;
  const dump = join(scratch, `fetch-${n}.head`);
  const out = join(scratch, `fetch-${n}.body`);
  const r = await curl([...args, '-D', dump, '-o', out]);
  const heads = parseHeaderDump(await readFile(dump, 'latin1').catch(() => ''));
  return {
    code: r.code,
    stderr: r.stderr,
    stdout: r.stdout,
    head: heads[heads.length - 1],
    body: await readFile(out).catch(() => Buffer.alloc(0)),
  };
}

/** `openssl s_client -quiet` with a client certificate, sending `input`; ALPN when given. */
export function sClient(
  port: number,
  ca: string,
  client: CertFiles,
  input: string,
  alpn?: string,
): Promise<RunResult> {
  return run(
    'openssl',
    [
      's_client',
      '-quiet',
      ...(alpn ? ['-alpn', alpn] : []),
      '-connect',
      `localhost:${port}`,
      '-CAfile',
      ca,
      '-cert',
      client.cert,
      '-key',
      client.key,
    ],
    { input },
  );
}

/**
 * A `serve --pki` folder made by the openssl CLI alone (never by our own code): ca.crt,
 * server.crt/key for localhost and 127.0.0.1, client.crt/key and crl.pem, plus more clients.
 */
export interface HttpPki {
  dir: string;
  ca: string;
  /** clientAuth, CN=client. */
  client: CertFiles;
  /** clientAuth, CN=alice. */
  alice: CertFiles;
  /** clientAuth, CN=revoked, listed in crl.pem. */
  revoked: CertFiles;
  /** clientAuth, CN=client, from another CA with the same name. */
  rogue: CertFiles;
}

export function makeHttpPki(dir: string): HttpPki {
  const p = new OpensslPki(dir);
  const ca = p.root('ca', { ext: EXT.root, cn: 'openssl test CA' });
  p.issue(ca, 'server', { ext: EXT.server, cn: 'localhost' });
  const client = p.issue(ca, 'client', { ext: EXT.client, cn: 'client' });
  const alice = p.issue(ca, 'alice', { ext: EXT.client, cn: 'alice' });
  const revoked = p.issue(ca, 'revoked', { ext: EXT.client, cn: 'revoked' });
  p.revoke(ca, revoked);
  p.concat('crl.pem', p.crl(ca, 'ca'));
  const rogueCa = p.root('rogue-ca', { ext: EXT.root, cn: 'openssl test CA' });
  const rogue = p.issue(rogueCa, 'rogue', { ext: EXT.client, cn: 'client' });
  const pair = (f: CertFiles): CertFiles => ({ cert: f.cert, key: f.key });
  return {
    dir,
    ca: ca.cert,
    client: pair(client),
    alice: pair(alice),
    revoked: pair(revoked),
    rogue: pair(rogue),
  };
}

export interface HttpFixture {
  dir: string;
  pki: HttpPki;
  root: string;
  server: ServerProcess;
  /** Stops the server and removes the folder. */
  remove(): Promise<void>;
}

/**
 * A temporary folder with an openssl-made PKI, a root holding `files` (name → contents) and,
 * with `rules` (YAML lines), an access rules file; `serve` started on it with `args`.
 */
export async function httpFixture(
  opts: { files?: Record<string, string | Buffer>; rules?: string[]; args?: string[] } = {},
): Promise<HttpFixture> {
  const tmp = await tempDir();
  const pki = makeHttpPki(join(tmp.path, 'pki'));
  const root = join(tmp.path, 'root');
  await mkdir(root);
  for (const [name, contents] of Object.entries(opts.files ?? {})) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), contents);
  }
  const access: string[] = [];
  if (opts.rules) {
    await writeFile(join(tmp.path, 'rules.yaml'), ['rules:', ...opts.rules].join('\n'));
    access.push('--access', join(tmp.path, 'rules.yaml'));
  }
  const server = await startServer([
    '--pki',
    pki.dir,
    '--root',
    root,
    ...access,
    ...(opts.args ?? []),
  ]);
  return {
    dir: tmp.path,
    pki,
    root,
    server,
    async remove() {
      await server.stop();
      await tmp.remove();
    },
  };
}
