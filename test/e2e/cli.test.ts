/**
 * The command-line contract: exit codes, `securestream: error:` / `hint:` lines, and no file
 * left behind, for the mistakes people make most.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFile, readdir, mkdir, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliServeRefuses, makeFixture, type Fixture } from '../helpers/fixture.js';
import type { TestPki } from '../helpers/pki.js';
import { CLI, run, runCli, startServer } from '../helpers/proc.js';

describe('cli', () => {
  let dir: Fixture;
  let pki: TestPki;

  before(async () => {
    dir = await makeFixture();
    pki = dir.pki;
  });
  after(async () => {
    await dir.remove();
  });

  const table: [string, string[], number, RegExp][] = [
    [
      'an unknown flag',
      ['get', 'x', '--bogus'],
      2,
      /^securestream: error: unknown option '--bogus'/m,
    ],
    ['a missing argument', ['get'], 2, /^securestream: error: nothing to get$/m],
    ['an unknown command', ['fetch'], 2, /^securestream: error: unknown command 'fetch'/m],
    [
      '--pki with --ca',
      ['get', 'x', '--pki', 'p', '--ca', 'c'],
      2,
      /--pki cannot be combined with --ca/,
    ],
    [
      '--ca without --cert and --key',
      ['get', 'x', '--ca', 'c'],
      2,
      /--ca given without --cert, --key/,
    ],
    [
      'a bad --server',
      ['get', 'x', '--server', 'host:99999'],
      2,
      /invalid server address "host:99999"/,
    ],
    [
      '--continue with --out -',
      ['get', 'x', '--continue', '--out', '-'],
      2,
      /^securestream: error: --out - cannot be combined with --continue$/m,
    ],
    [
      '--keep-partial with --out -',
      ['get', 'x', '--keep-partial', '--out', '-'],
      2,
      /^securestream: error: --out - cannot be combined with --keep-partial$/m,
    ],
    ['a bad --port', ['serve', '--port', '70000'], 2, /invalid --port "70000"/],
    ['a bad --tls-max', ['serve', '--tls-max', '1.1'], 2, /--tls-max/],
    ['a bad --size', ['payload', 'f', '--size', '12XB'], 2, /invalid size "12XB"/],
    ['a bad duration', ['serve', '--idle-timeout', 'soon'], 2, /invalid --idle-timeout "soon"/],
  ];
  for (const [args, help] of [
    [['get', 'x', '--bogus'], 'securestream get --help'],
    [['pki', 'revoke', 'x', '--bogus'], 'securestream pki revoke --help'],
    [['--bogus'], 'securestream --help'],
  ] as const) {
    it(`${args.join(' ')}: the hint names "${help}"`, async () => {
      const r = await runCli([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^securestream: hint: see "${help}"$`, 'm'));
    });
  }

  for (const [what, args, code, words] of table) {
    it(`${what}: exit ${code} with an error line`, async () => {
      const r = await runCli(args, { cwd: dir.path });
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, words);
      assert.match(r.stderr, /^securestream: (error|hint): /m);
      assert.equal(r.stdout, '');
    });
  }

  it('missing certificates: exit 1, names the file, hints at pki init', async () => {
    const out = join(dir.path, 'nope-out');
    await mkdir(out);
    const r = await runCli([
      'get',
      'x',
      '--pki',
      join(dir.path, 'no-pki'),
      '--out',
      join(out, 'x'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^securestream: error: .*no-pki\/ca\.crt/m);
    assert.match(r.stderr, /^securestream: hint: .*pki init/m);
    assert.deepEqual(await readdir(out), []);
  });

  it('mismatched key: exit 1, names both files', async () => {
    const r = await runCli([
      'serve',
      '--ca',
      pki.ca,
      '--cert',
      pki.server.cert,
      '--key',
      pki.client.key,
      '--port',
      '0',
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^securestream: error: private key ".*client\.key" does not belong to certificate ".*server\.crt"/m,
    );
  });

  it('a root that does not exist: exit 1 before listening', async () => {
    const r = await cliServeRefuses(pki.pki, join(dir.path, 'absent'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^securestream: error: --root ".*absent" does not exist/m);
  });

  for (const args of [[], ['pki']]) {
    it(`"securestream${args.map((a) => ` ${a}`).join('')}" without a command: help on stderr, exit 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        new RegExp(`^Usage: securestream${args.map((a) => ` ${a}`).join('')} `),
      );
    });
  }

  it('--help and --version exit 0', async () => {
    const h = await runCli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: securestream/);
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^securestream \d+\.\d+\.\d+\nNode\.js \d+\.\d+\.\d+\nOpenSSL \S+\n$/);
  });

  // Issue 11: a key the format cannot use is a local failure (exit 1); exit 4 means a server
  // refused, and no server is involved here.
  it('encrypt --to an Ed25519 public key: exit 1, not the refusal code 4', async () => {
    const key = join(dir.path, 'ed.key');
    const pub = join(dir.path, 'ed.pub');
    assert.equal((await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key])).code, 0);
    assert.equal((await run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub])).code, 0);
    const plain = join(dir.path, 'ed-plain.txt');
    await writeFile(plain, 'to nobody\n');
    const r = await runCli(['encrypt', plain, '--to', pub]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^securestream: error: .*ed25519/m);
    assert.equal(r.stdout, '');
    await assert.rejects(stat(`${plain}.sst`), { code: 'ENOENT' });
  });

  it('payload writes exactly SIZE random bytes and prints the sha256sum line', async () => {
    const f = join(dir.path, 'p.bin');
    const r = await runCli(['payload', f, '--size', '64KiB']);
    assert.equal(r.code, 0, r.stderr);
    const bytes = await readFile(f);
    assert.equal(bytes.length, 65536);
    const ref = await run('sha256sum', [f]);
    assert.equal(r.stdout, ref.stdout);
    assert.equal(r.stdout, `${createHash('sha256').update(bytes).digest('hex')}  ${f}\n`);
    const again = await runCli(['payload', join(dir.path, 'q.bin'), '--size', '64KiB']);
    assert.notEqual(again.stdout.split(' ')[0], r.stdout.split(' ')[0], 'payloads must be random');
  });

  it('an interrupted get (SIGINT) exits 130 and leaves nothing', async () => {
    const root = dir.root;
    const out = join(dir.path, 'int-out');
    await mkdir(out);
    await writeFile(join(out, 'big.bin'), 'previous contents');
    const made = await runCli(['payload', join(root, 'big.bin'), '--size', '256MiB']);
    assert.equal(made.code, 0, made.stderr);
    const server = await startServer(['--pki', pki.pki, '--root', root]);
    try {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'get',
          'big.bin',
          '--server',
          `localhost:${server.port}`,
          '--pki',
          pki.pki,
          '--out',
          join(out, 'big.bin'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) =>
        child.on('exit', (code) => {
          r(code);
        }),
      );
      // Wait until the temporary file exists and is growing, then interrupt.
      for (let i = 0; i < 400; i++) {
        // The output's own temporary file, not the probe of the folder made before dialling.
        const part = (await readdir(out)).find(
          (n) => n.startsWith('.big.bin.') && n.endsWith('.part'),
        );
        if (part && (await stat(join(out, part))).size > 1 << 20) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, stderr);
      assert.match(
        stderr,
        /securestream: error: interrupted by SIGINT before the output was complete; the partial file was removed/,
      );
      assert.deepEqual(await readdir(out), ['big.bin']);
      assert.equal(await readFile(join(out, 'big.bin'), 'utf8'), 'previous contents');
    } finally {
      await server.stop();
    }
  });
});
