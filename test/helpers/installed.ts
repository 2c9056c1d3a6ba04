/**
 * End-to-end smoke test of a securestream that was installed (npm install -g, the single
 * executable): the commands a new user runs first, through that command only, with the
 * environment given (e.g. a PATH without node).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from './proc.js';

type Result = Pick<RunResult, 'code' | 'signal' | 'stdout' | 'stderr'>;

export interface Installed {
  /** The command, e.g. [PREFIX/bin/securestream] or [dist/bin/securestream-linux-x64]. */
  cmd: string[];
  env: NodeJS.ProcessEnv;
}

/** Runs the installed command with ARGS in `cwd`, to completion (killed after 60 s). */
export function runInstalled(it: Installed, args: string[], cwd: string): Promise<Result> {
  const [file, ...pre] = it.cmd;
  return new Promise((resolve, reject) => {
    const p = spawn(file ?? '', [...pre, ...args], {
      cwd,
      env: it.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function ok(it: Installed, args: string[], cwd: string): Promise<string> {
  const r = await runInstalled(it, args, cwd);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The SHA-256 hex of a `sha256sum`-style line. */
const digestOf = (line: string): string => /^([0-9a-f]{64}) {2}/m.exec(line)?.[1] ?? 'none';

/**
 * pki init, a payload, serve (`--workers N`), two gets whose digests match the payload's,
 * encrypt to the client certificate and decrypt with its key, then SIGTERM: exit 0.
 */
export async function smokeTest(it: Installed, dir: string, workers = 1): Promise<void> {
  await ok(it, ['pki', 'init', '--dir', 'pki'], dir);
  await mkdir(join(dir, 'data'));
  const payload = digestOf(await ok(it, ['payload', 'data/a.bin', '--size', '3MiB'], dir));
  const args = ['serve', '--pki', 'pki', '--root', 'data', '--host', '127.0.0.1', '--port', '0'];
  const [file, ...pre] = it.cmd;
  const server = spawn(
    file ?? '',
    [...pre, ...args, '--workers', String(workers), '--log-format', 'json'],
    {
      cwd: dir,
      env: it.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    let out = '';
    let err = '';
    server.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no listening line: ${err}`));
      }, 30_000);
      server.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on \S*:(\d+) /.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited ${String(code)}: ${err}`));
      });
    });
    if (workers > 1) assert.match(out, new RegExp(`; ${workers} workers\\)`));
    for (const copy of ['b.bin', 'c.bin']) {
      const line = await ok(
        it,
        ['get', 'a.bin', '--server', `localhost:${port}`, '--pki', 'pki', '--out', copy, '--quiet'],
        dir,
      );
      assert.equal(digestOf(line), payload, line);
    }
    await ok(it, ['encrypt', 'data/a.bin', '--to', 'pki/client.crt', '--out', 'a.sst'], dir);
    const plain = await ok(
      it,
      ['decrypt', 'a.sst', '--pki', 'pki', '--out', join(dir, 'd.bin')],
      dir,
    );
    assert.equal(digestOf(plain), payload, plain);
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
}
