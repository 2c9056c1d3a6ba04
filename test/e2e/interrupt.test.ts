/**
 * Every command that writes a file, interrupted mid-write as a real process by SIGINT, SIGTERM
 * and SIGHUP: exit 130/143/129, the temporary file (seen at mode 0600 during the run) gone,
 * nothing at the output path; run to the end, the output has 0666 less the umask (keys 0600),
 * under a umask of 002 so that neither 0644 nor 0600 would pass by chance.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { CLI, runCli, startServer, type ServerProcess } from '../helpers/proc.js';

/** The umask the commands run under, so the final modes below are not the defaults by luck. */
const UMASK = '002';
const DATA_MODE = 0o664; // 0666 & ~002
const KEY_MODE = 0o600;
const EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
const TEMP = /^\..*\.[0-9a-f]{12}\.part$/;

interface Observed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  /** Mode bits of the temporary file seen while the command ran. */
  tempMode: number | undefined;
  /** Size of the temporary file when the signal was sent. */
  tempSize: number;
}

/**
 * Runs `securestream ARGS` under UMASK. With `signal`, sends it as soon as a temporary
 * file in `dir` holds at least `minBytes`, and reports what was seen.
 */
async function runWatched(
  args: string[],
  dir: string,
  opts: { signal?: NodeJS.Signals; minBytes?: number } = {},
): Promise<Observed> {
  const child = spawn(
    '/bin/sh',
    ['-c', `umask ${UMASK} && exec "$@"`, 'sh', process.execPath, CLI, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('close', (code, sig) => {
      r([code, sig]);
    }),
  );
  const state = { done: false };
  void exited.then(() => (state.done = true));
  let tempMode: number | undefined;
  let tempSize = 0;
  const deadline = Date.now() + 30_000;
  while (!state.done && Date.now() < deadline) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.filter((x) => TEMP.test(x))) {
      const st = await stat(join(dir, n)).catch(() => undefined);
      if (!st) continue;
      tempMode ??= st.mode & 0o777;
      tempSize = Math.max(tempSize, st.size);
    }
    if (opts.signal && tempMode !== undefined && tempSize >= (opts.minBytes ?? 0)) {
      child.kill(opts.signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, sig] = await exited;
  clearTimeout(timer);
  return { code, signal: sig, stderr, stdout, tempMode, tempSize };
}

async function temps(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => TEMP.test(n) || n.endsWith('.part'));
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('interrupted commands', () => {
  let fx: Fixture;
  let server: ServerProcess;
  let big: string;
  let bigSst: string;
  let smallSst: string;
  const clients = Array.from({ length: 100 }, (_, i) => ['--client', `c${i}`]).flat();

  before(async () => {
    fx = await makeFixture();
    big = join(fx.root, 'big.bin');
    bigSst = join(fx.path, 'big.bin.sst');
    smallSst = join(fx.path, 'small.bin.sst');
    const made = await runCli(['payload', big, '--size', '256MiB']);
    assert.equal(made.code, 0, made.stderr);
    const enc = await runCli(['encrypt', big, '--to', fx.pki.client.cert, '--out', bigSst]);
    assert.equal(enc.code, 0, enc.stderr);
    await writeFile(join(fx.root, 'small.bin'), 'small file\n');
    const encSmall = await runCli([
      'encrypt',
      join(fx.root, 'small.bin'),
      '--to',
      fx.pki.client.cert,
      '--out',
      smallSst,
    ]);
    assert.equal(encSmall.code, 0, encSmall.stderr);
    server = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  const getArgs = (name: string, out: string): string[] => [
    'get',
    name,
    '--server',
    `localhost:${server.port}`,
    '--pki',
    fx.pki.pki,
    '--out',
    out,
    '--quiet',
  ];

  /** Each command: its arguments for an output folder, the output path, and a small variant. */
  const commands: {
    name: string;
    args: (out: string) => string[];
    output: (out: string) => string;
    small: (out: string) => string[];
    minBytes: number;
  }[] = [
    {
      name: 'get',
      args: (out) => getArgs('big.bin', join(out, 'big.bin')),
      output: (out) => join(out, 'big.bin'),
      small: (out) => getArgs('small.bin', join(out, 'big.bin')),
      minBytes: 1 << 20,
    },
    {
      name: 'payload',
      args: (out) => ['payload', join(out, 'p.bin'), '--size', '1GiB'],
      output: (out) => join(out, 'p.bin'),
      small: (out) => ['payload', join(out, 'p.bin'), '--size', '1000'],
      minBytes: 1 << 20,
    },
    {
      name: 'encrypt',
      args: (out) => ['encrypt', big, '--to', fx.pki.client.cert, '--out', join(out, 'x.sst')],
      output: (out) => join(out, 'x.sst'),
      small: (out) => [
        'encrypt',
        join(fx.root, 'small.bin'),
        '--to',
        fx.pki.client.cert,
        '--out',
        join(out, 'x.sst'),
      ],
      minBytes: 1 << 20,
    },
    {
      name: 'decrypt',
      args: (out) => ['decrypt', bigSst, '--key', fx.pki.client.key, '--out', join(out, 'x')],
      output: (out) => join(out, 'x'),
      small: (out) => ['decrypt', smallSst, '--key', fx.pki.client.key, '--out', join(out, 'x')],
      minBytes: 1 << 20,
    },
    {
      // A hundred clients: 204 files staged and fsynced one by one, a window to hit.
      name: 'pki init',
      args: (out) => ['pki', 'init', '--dir', join(out, 'pki'), ...clients],
      output: (out) => join(out, 'pki', 'ca.key'),
      small: (out) => ['pki', 'init', '--dir', join(out, 'pki')],
      minBytes: 0,
    },
  ];

  for (const c of commands) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      it(`${c.name}: ${sig} mid-write exits ${EXIT[sig]}, temp file 0600 then gone`, async () => {
        const out = join(fx.path, `${c.name.replace(' ', '-')}-${sig}`);
        await mkdir(out);
        // pki init writes into a folder of its own, created just before the files.
        const watched = c.name === 'pki init' ? join(out, 'pki') : out;
        const r = await runWatched(c.args(out), watched, { signal: sig, minBytes: c.minBytes });
        assert.equal(r.tempMode, 0o600, `temporary file mode; stderr: ${r.stderr}`);
        assert.equal(r.code, EXIT[sig], r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `^securestream: error: interrupted by ${sig} before the output was complete`,
            'm',
          ),
        );
        assert.equal(r.stdout, '', 'no digest line for an interrupted command');
        assert.deepEqual(await temps(watched).catch(() => []), [], 'temporary files left');
        await assert.rejects(stat(c.output(out)), { code: 'ENOENT' });
      });
    }

    it(`${c.name}: run to the end, the output has 0666 & ~umask, keys 0600`, async () => {
      const out = join(fx.path, `${c.name.replace(' ', '-')}-whole`);
      await mkdir(out);
      const watched = c.name === 'pki init' ? join(out, 'pki') : out;
      const r = await runWatched(c.small(out), watched);
      assert.equal(r.code, 0, r.stderr);
      if (c.name === 'pki init') {
        assert.equal(await modeOf(join(watched, 'ca.key')), KEY_MODE);
        assert.equal(await modeOf(join(watched, 'client.key')), KEY_MODE);
        assert.equal(await modeOf(join(watched, 'ca.crt')), 0o644); // public: 0644 & ~002
      } else {
        assert.equal(await modeOf(c.output(out)), DATA_MODE);
      }
      assert.deepEqual(await temps(watched), []);
    });
  }
});
