/**
 * Text from a hostile or broken peer reaches a person escaped (issue 10): a line-protocol
 * server's `ERR` message with terminal escape sequences, a listing whose names and times carry
 * control and bidirectional characters, and a client's request name in the server's pretty
 * log. Real TLS servers made here (node:tls, node:https) with the fixture's certificates; the
 * client is the built CLI. Nothing a terminal acts on may come out raw on stderr, and on
 * stdout only where the format promises exact bytes to a pipe (names for `get --from -`).
 */
import { strict as assert } from 'node:assert';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  closeHttpPeer,
  listenOnLoopback,
  mutualTlsOptions,
  startFakeServer,
} from '../helpers/fakeserver.js';
import { BODY, OK, SHA, TRAILER } from '../helpers/faults.js';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { CLI, run, runCli, startServer, type RunResult } from '../helpers/proc.js';

/** What a terminal acts on: C0, DEL, C1 and the bidirectional formatting characters. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function assertNoRawControls(text: string, what: string): void {
  const m = RAW_CONTROL.exec(text);
  assert.equal(
    m,
    null,
    `${what} has a raw U+${(m?.[0].charCodeAt(0) ?? 0).toString(16)}: ${JSON.stringify(text)}`,
  );
}

describe('text from a hostile peer is escaped', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture({ 'file.bin': 'x' });
  });
  after(async () => {
    await fx.remove();
  });

  const get = (port: number, name = 'file.bin'): Promise<RunResult> =>
    cliGet(port, fx.pki.pki, name, join(fx.path, 'out.bin'), ['--quiet']);

  const errLines: [string, string | Buffer, number, RegExp][] = [
    [
      'colour and window-title sequences',
      'ERR forbidden \x1b[31mevil\x1b]0;title\x07\n',
      4,
      /^securestream: error: the server refused "file\.bin": forbidden \(\\x1b\[31mevil\\x1b\]0;title\\x07\)$/m,
    ],
    [
      'backspaces and DEL',
      'ERR not-found ok\b\b\x7f\n',
      4,
      /^securestream: error: the server refused "file\.bin": not-found \(ok\\x08\\x08\\x7f\)$/m,
    ],
    [
      'a C1 CSI byte (0x9b)',
      Buffer.concat([Buffer.from('ERR busy a'), Buffer.from([0x9b]), Buffer.from('2Jb\n')]),
      4,
      /^securestream: error: the server refused "file\.bin": busy \(a\\x9b2Jb\)$/m,
    ],
    [
      'a CR that would overwrite the line (a malformed header: exit 5)',
      'ERR not-found ok\rfake\n',
      5,
      /^securestream: error: malformed response header "ERR not-found ok\\rfake"$/m,
    ],
  ];
  for (const [what, header, code, want] of errLines) {
    it(`an ERR message with ${what}: escaped on stderr`, async () => {
      const fake = await startFakeServer(fx.pki, { header });
      try {
        const r = await get(fake.port);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, want);
        assertNoRawControls(r.stderr, 'stderr');
        assert.equal(r.stdout, '');
      } finally {
        await fake.close();
      }
    });
  }

  it('sha256sum lines of paths with a backslash, LF or CR: sha256sum -c verifies them', async () => {
    const fake = await startFakeServer(fx.pki, { header: OK, body: BODY, trailer: TRAILER });
    try {
      const dir = join(fx.path, 'sums');
      await mkdir(dir);
      const got = await cliGet(fake.port, fx.pki.pki, 'file.bin', join(dir, 'back\\slash'), [
        '--quiet',
      ]);
      assert.equal(got.code, 0, got.stderr);
      const made = await runCli(['payload', join(dir, 'new\nline'), '--size', '1000']);
      assert.equal(made.code, 0, made.stderr);
      const sealed = await runCli([
        'encrypt',
        join(dir, 'new\nline'),
        '--to',
        fx.pki.client.cert,
        '--out',
        join(dir, 'carriage\rreturn.sst'),
      ]);
      assert.equal(sealed.code, 0, sealed.stderr);
      const lines = got.stdout + made.stdout + sealed.stdout;
      assert.equal(got.stdout, `\\${SHA}  ${join(dir, 'back\\\\slash')}\n`);
      assert.equal(lines.split('\n').filter((l) => l.startsWith('\\')).length, 3, lines);
      const checked = await run('sha256sum', ['-c', '-'], { input: lines });
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
      assert.equal((checked.stdout.match(/: OK$/gm) ?? []).length, 3, checked.stdout);
    } finally {
      await fake.close();
    }
  });

  describe('a listing server (HTTP/1.1 over mutual TLS)', () => {
    let server: Server;
    let port = 0;
    const listing = (entries: unknown[]): string =>
      JSON.stringify({ format: 'securestream-listing/1', folder: '', entries });
    /** What the server answers per folder target. */
    const pages: Record<string, { status: number; body: string }> = {
      '/': {
        status: 200,
        body: listing([
          {
            name: 'invoice\u202egpj.exe',
            type: 'file',
            size: 3,
            mtime: '2026-11-29T10:00:00Z\x1b]0;pwned\x07',
          },
          { name: 'plain.txt', type: 'file', size: 1, mtime: '2026-11-29T10:00:00Z' },
        ]),
      },
      '/esc/': {
        status: 200,
        body: JSON.stringify({
          format: 'securestream-listing/1',
          folder: 'esc/',
          entries: [{ name: 'a\x1b[2Jb', type: 'file', size: 1, mtime: '' }],
        }),
      },
      '/denied/': { status: 403, body: 'forbidden: \x1b[31mno\x1b[0m\n' },
    };

    before(async () => {
      server = createServer(mutualTlsOptions(fx.pki, ['http/1.1']), (req, res) => {
        const page = pages[(req.url ?? '/').split('?')[0] ?? '/'] ?? {
          status: 404,
          body: 'not-found: no\n',
        };
        res.writeHead(page.status, { 'content-type': 'application/json' });
        res.end(page.body);
      });
      port = await listenOnLoopback(server);
    });
    after(async () => {
      await closeHttpPeer(server);
    });

    function ls(args: string[]): Promise<RunResult> {
      return runCli(['ls', ...args, '--server', `127.0.0.1:${port}`, '--pki', fx.pki.pki]);
    }

    it('ls --long escapes a bidi override in a name and an OSC sequence in a time', async () => {
      const r = await ls(['--long']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        / 2026-11-29T10:00:00Z\\x1b\]0;pwned\\x07 .* invoice\\u202egpj\.exe$/m,
      );
      assert.match(r.stdout, / plain\.txt$/m);
      assertNoRawControls(r.stdout, 'stdout');
    });

    it('ls --json stays exact JSON, with those characters as \\u escapes', async () => {
      const r = await ls(['--json']);
      assert.equal(r.code, 0, r.stderr);
      assertNoRawControls(r.stdout, 'stdout');
      assert.deepEqual(JSON.parse(r.stdout), [
        {
          name: 'invoice\u202egpj.exe',
          type: 'file',
          size: 3,
          mtime: '2026-11-29T10:00:00Z\x1b]0;pwned\x07',
        },
        { name: 'plain.txt', type: 'file', size: 1, mtime: '2026-11-29T10:00:00Z' },
      ]);
      assert.ok(r.stdout.includes('"invoice\\u202egpj.exe"'));
    });

    it('ls into a pipe prints names exactly, for get --from -', async () => {
      const r = await ls([]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'invoice\u202egpj.exe\nplain.txt\n');
    });

    it('ls on a terminal (a pty from script(1)) escapes the names', async () => {
      const cmd = [
        process.execPath,
        CLI,
        'ls',
        '--server',
        `127.0.0.1:${port}`,
        '--pki',
        fx.pki.pki,
      ];
      const r = await run('script', ['-qec', cmd.join(' '), '/dev/null']);
      assert.equal(r.code, 0, r.stdout);
      const shown = r.stdout.replace(/\r\n/g, '\n');
      assert.equal(shown, 'invoice\\u202egpj.exe\nplain.txt\n');
      assertNoRawControls(shown, 'the terminal');
    });

    it('a listing name with ESC is refused as malformed (exit 5), named escaped', async () => {
      const r = await ls(['esc']);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /the server's listing is malformed: an entry named "a\\u001b\[2Jb"/);
      assertNoRawControls(r.stderr, 'stderr');
      assert.equal(r.stdout, '');
    });

    it('an HTTP refusal body with escape sequences: exit 4, no raw ESC', async () => {
      const r = await ls(['denied']);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /^securestream: error: the server refused "denied": forbidden/m);
      assertNoRawControls(r.stderr, 'stderr');
    });
  });

  it("the server's pretty log escapes a client's request name", async () => {
    const server = await startServer([
      '--pki',
      fx.pki.pki,
      '--root',
      fx.root,
      '--log-format',
      'pretty',
    ]);
    try {
      const name = 'a\u202eb\u009bc.txt';
      const r = await get(server.port, name);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /the server refused "a\\u202eb\\x9bc\.txt": not-found/);
      assertNoRawControls(r.stderr, 'client stderr');
      const deadline = Date.now() + 10_000;
      while (!server.logs().includes('not-found') && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 20));
      }
      const line =
        server
          .logs()
          .split('\n')
          .find((l) => l.includes('not-found')) ?? '';
      assert.ok(line.includes('GET "a\\u202eb\\u009bc.txt"'), server.logs());
      assertNoRawControls(server.logs(), 'server log');
    } finally {
      await server.stop();
    }
  });
});
