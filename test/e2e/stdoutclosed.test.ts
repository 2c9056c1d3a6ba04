/**
 * A reader that stops early (`securestream get … | head -1`, `ls | head -1`): standard output
 * is a real pipe whose read end the test closes. The command stops with a clear error and
 * exit 1, never a stack trace; transfers in flight stop and leave no temporary file; files
 * stored before are complete.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { outFolders, useServedFixture } from '../helpers/fixture.js';
import { CLI } from '../helpers/proc.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Runs the CLI with stdout a pipe whose read end is closed at once; waits for the exit. */
function runWithClosedStdout(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const closedStdout = (r: { code: number | null; stderr: string }): void => {
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^securestream: error: standard output was closed \(EPIPE\) before everything was written$/m,
  );
  assert.match(r.stderr, /^securestream: hint: read the whole output, or redirect it to a file$/m);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'a stack trace');
  assert.doesNotMatch(r.stderr, /Unhandled|EPIPE\n/);
};

describe('standard output closed by its reader', () => {
  const big = randomBytes(24 * 1024 * 1024);
  const files = { 'a-small.txt': 'small\n', 'b1.bin': big, 'b2.bin': big, 'b3.bin': big };
  const fx = useServedFixture(files);
  const outDir = outFolders(fx);
  const common = (): string[] => ['--server', `localhost:${fx.server.port}`, '--pki', fx.pki.pki];

  it('get of several files: exit 1, an error line, no temporary file left, stored files whole', async () => {
    const out = await outDir();
    const r = await runWithClosedStdout(
      ['get', ...Object.keys(files), '--out', out, '-j', '3', '--quiet', ...common()],
      fx.path,
    );
    closedStdout(r);
    const left = await readdir(out);
    assert.deepEqual(
      left.filter((n) => n.startsWith('.')),
      [],
      'temporary files left',
    );
    for (const name of left) {
      const want = files[name as keyof typeof files];
      assert.equal(sha256(await readFile(join(out, name))), sha256(Buffer.from(want)), name);
    }
  });

  it('get --out - of one file: exit 1, the same error line', async () => {
    const r = await runWithClosedStdout(['get', 'b1.bin', '--out', '-', ...common()], fx.path);
    closedStdout(r);
  });

  it('ls: exit 1, an error line, no stack trace', async () => {
    const r = await runWithClosedStdout(['ls', '--long', ...common()], fx.path);
    closedStdout(r);
  });
});
