/**
 * The usual end-to-end set-up: a temporary folder holding a fresh test PKI (certs/) and a
 * served root (root/) with some files in it, optionally with a server running on it for the
 * whole suite.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { makeTestPki, type CertFiles, type TestPki } from './pki.js';
import { runCli, startServer, tempDir, type RunResult, type ServerProcess } from './proc.js';

export interface Fixture {
  /** The temporary folder holding everything below. */
  path: string;
  /** A fresh PKI in path/certs. */
  pki: TestPki;
  /** path/root, created, holding the files given to `makeFixture`. */
  root: string;
  /** Deletes the whole folder. */
  remove(): Promise<void>;
}

/**
 * Creates a temporary folder with a test PKI and a root folder holding `files` (relative
 * name → contents; parent folders are created as needed).
 */
export async function makeFixture(files: Record<string, string | Buffer> = {}): Promise<Fixture> {
  const dir = await tempDir();
  const pki = await makeTestPki(join(dir.path, 'certs'));
  const root = join(dir.path, 'root');
  await mkdir(root);
  for (const [name, contents] of Object.entries(files)) {
    const file = join(root, name);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, contents);
  }
  return { path: dir.path, pki, root, remove: dir.remove };
}

/** A fixture with `securestream serve` running on it. */
export interface ServedFixture extends Fixture {
  server: ServerProcess;
}

/**
 * For the suite it is called in (a describe() body): before its tests, a fixture holding
 * `files` and `securestream serve --pki PKI --root ROOT ...serverArgs` on it; after them, the
 * server stopped and the folder removed. The returned object is filled in by the first test.
 */
export function useServedFixture(
  files: Record<string, string | Buffer> = {},
  serverArgs: string[] = [],
): ServedFixture {
  const fx = {} as ServedFixture;
  before(async () => {
    Object.assign(fx, await makeFixture(files));
    fx.server = await startServer(['--pki', fx.pki.pki, '--root', fx.root, ...serverArgs]);
  });
  after(async () => {
    await fx.server.stop();
    await fx.remove();
  });
  return fx;
}

/** Makes a new empty folder in the fixture on each call (out-1, out-2, …). */
export function outFolders(f: Fixture): () => Promise<string> {
  let n = 0;
  return async () => {
    const d = join(f.path, `out-${++n}`);
    await mkdir(d);
    return d;
  };
}

/** `securestream get NAME --server localhost:PORT --pki PKI --out OUT ...EXTRA`. */
export function cliGet(
  port: number,
  pki: string,
  name: string,
  out: string,
  extra: string[] = [],
): Promise<RunResult> {
  return runGet(port, name, out, ['--pki', pki, ...extra]);
}

/**
 * `securestream get NAME --server localhost:PORT --ca CA --cert C --key K --out OUT`: a client
 * with credentials of its choice (another CA, a rogue certificate).
 */
export function cliGetWith(
  port: number,
  creds: { ca: string } & CertFiles,
  name: string,
  out: string,
): Promise<RunResult> {
  return runGet(port, name, out, ['--ca', creds.ca, '--cert', creds.cert, '--key', creds.key]);
}

function runGet(port: number, name: string, out: string, flags: string[]): Promise<RunResult> {
  return runCli(['get', name, '--server', `localhost:${port}`, '--out', out, ...flags]);
}

/**
 * `securestream serve --pki PKI --root ROOT --port 0 ...EXTRA` for a server that must refuse to
 * start: resolves with its exit code and output (killed after runCli's timeout otherwise).
 */
export function cliServeRefuses(
  pki: string,
  root: string,
  extra: string[] = [],
  timeoutMs?: number,
): Promise<RunResult> {
  return runCli(
    ['serve', '--pki', pki, '--root', root, '--port', '0', ...extra],
    timeoutMs === undefined ? {} : { timeoutMs },
  );
}
