/**
 * The usual end-to-end set-up: a temporary folder holding a fresh test PKI (certs/) and a
 * served root (root/) with some files in it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTestPki, type TestPki } from './pki.js';
import { runCli, tempDir, type RunResult } from './proc.js';

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

/** `securestream get NAME --server localhost:PORT --pki PKI --out OUT ...EXTRA`. */
export function cliGet(
  port: number,
  pki: string,
  name: string,
  out: string,
  extra: string[] = [],
): Promise<RunResult> {
  return runCli([
    'get',
    name,
    '--server',
    `localhost:${port}`,
    '--pki',
    pki,
    '--out',
    out,
    ...extra,
  ]);
}

/**
 * `securestream serve --pki PKI --root ROOT --port 0 ...EXTRA` for a server that must refuse to
 * start: resolves with its exit code and output (killed after runCli's timeout otherwise).
 */
export function cliServeRefuses(
  pki: string,
  root: string,
  extra: string[] = [],
): Promise<RunResult> {
  return runCli(['serve', '--pki', pki, '--root', root, '--port', '0', ...extra]);
}
