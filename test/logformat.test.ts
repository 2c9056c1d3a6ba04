/**
 * The pretty log format on real records: a server logs JSON for a download, a refusal, a
 * denial, a failed handshake, a reload and a stop; each record goes through the formatter the
 * pretty logger uses, and `serve --log-format pretty` writes the same lines itself.
 */
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prettyFormatter } from '../src/log.js';
import { listeningSummary } from '../src/logformat.js';
import { cliGet, makeFixture, type Fixture } from './helpers/fixture.js';
import { curl, curlTls } from './helpers/http.js';
import { runCli, startServer } from './helpers/proc.js';

const TIME = /^\d\d:\d\d:\d\d\.\d{3} /;

/** Waits (up to 10 s) for a condition on what a process printed; JSON or pretty alike. */
async function until(cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !cond();) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const ESC = '\x1b';

describe('pretty log lines from real records', () => {
  let fx: Fixture;
  let records: Record<string, unknown>[] = [];
  let raw: string[] = [];
  let pretty = '';
  let prettyBanner = '';

  const session = async (args: string[]): Promise<{ logs: string; banner: string }> => {
    const server = await startServer(args);
    try {
      const ok = await cliGet(server.port, fx.pki.pki, 'big.bin', join(fx.path, 'big.bin'));
      assert.equal(ok.code, 0, ok.stderr);
      await cliGet(server.port, fx.pki.pki, 'nope.bin', join(fx.path, 'nope.bin'));
      await cliGet(server.port, fx.pki.pki, 'secret/s.txt', join(fx.path, 's.txt'));
      const http = await curl([
        '--http1.1',
        ...curlTls(fx.pki.ca, fx.pki.client),
        '-r',
        '0-9',
        '-o',
        join(fx.path, 'range.bin'),
        `https://localhost:${server.port}/big.bin`,
      ]);
      assert.equal(http.code, 0, http.stderr);
      const rogue = await runCli([
        'get',
        'big.bin',
        '--server',
        `localhost:${server.port}`,
        '--ca',
        fx.pki.ca,
        '--cert',
        fx.pki.rogueClient.cert,
        '--key',
        fx.pki.rogueClient.key,
        '--out',
        join(fx.path, 'rogue.bin'),
      ]);
      assert.equal(rogue.code, 3, rogue.stderr);
      await until(() => /handshake failed/.test(server.logs()));
      process.kill(server.pid, 'SIGHUP');
      await until(() => /reloaded/.test(server.logs()));
    } finally {
      await server.stop();
    }
    return { logs: server.logs(), banner: server.banner };
  };

  before(async () => {
    fx = await makeFixture({ 'big.bin': Buffer.alloc(3 << 20, 7), 'secret/s.txt': 'no\n' });
    const rules = join(fx.path, 'rules.yaml');
    await writeFile(
      rules,
      'rules:\n  - cn: client\n    deny: ["secret/**"]\n  - cn: client\n    allow: ["**"]\n',
    );
    const args = ['--pki', fx.pki.pki, '--root', fx.root, '--access', rules];
    const json = await session(args);
    raw = json.logs.split('\n').filter((l) => l.startsWith('{'));
    records = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    // The same run with the pretty format: stderr is a pipe here, so no colours.
    const p = await session([...args, '--log-format', 'pretty']);
    pretty = p.logs;
    prettyBanner = p.banner;
  });
  after(async () => {
    await fx.remove();
  });

  const line = (
    msg: string,
    pred: (r: Record<string, unknown>) => boolean = () => true,
  ): string => {
    const i = records.findIndex((r) => r['msg'] === msg && pred(r));
    assert.ok(i >= 0, `no "${msg}" record in ${raw.join('\n')}`);
    return prettyFormatter(false)(raw[i] as string);
  };

  it('a download: time, level, id, peer, identity, request, outcome, bytes, duration, rate', () => {
    const l = line('connection', (r) => r['request'] === 'big.bin');
    assert.match(
      l,
      /^\d\d:\d\d:\d\d\.\d{3} INFO: #\d+ 127\.0\.0\.1:\d+ CN=client GET "big\.bin" ok, 3\.0 MiB in \d+ ms \(\d+\.\d (KiB|MiB|GiB)\/s\)\n$/,
    );
  });

  it('a refusal: the outcome and the reason, no rate', () => {
    const l = line('connection', (r) => r['request'] === 'nope.bin');
    assert.match(
      l,
      /INFO: #\d+ 127\.0\.0\.1:\d+ CN=client GET "nope\.bin" not-found: no such file, 0 B in \d+ ms\n$/,
    );
  });

  it('a denial names the rule', () => {
    const l = line('connection', (r) => r['request'] === 'secret/s.txt');
    assert.match(
      l,
      /GET "secret\/s\.txt" forbidden: denied by rules\.yaml#1 \(cn=client\), 0 B in \d+ ms\n$/,
    );
  });

  it('an HTTP request and its connection', () => {
    assert.match(
      line('request'),
      /INFO: #\d+ 127\.0\.0\.1:\d+ CN=client http\/1\.1 GET "\/big\.bin" 206 bytes 0-9\/3145728 ok, 10 B in \d+ ms/,
    );
    assert.match(
      line('connection', (r) => r['wire'] === 'http/1.1'),
      /INFO: #\d+ 127\.0\.0\.1:\d+ CN=client http\/1\.1, 1 requests ok, 10 B in \d+ ms/,
    );
  });

  it('a failed handshake: peer and reason, on one line', () => {
    const l = line('handshake failed');
    assert.match(
      l,
      /^\d\d:\d\d:\d\d\.\d{3} WARN: handshake failed 127\.0\.0\.1:\d+: client certificate from an unknown CA/,
    );
    assert.equal(l.split('\n').length, 2, 'one line');
    assert.match(l, / \[CN=client, serial [0-9a-f]+\]\n$/, 'names the presented certificate');
  });

  it('"listening" says what the banner says', () => {
    const l = line('listening');
    const r = records.find((x) => x['msg'] === 'listening') as Record<string, unknown>;
    assert.match(
      l,
      /INFO: listening on 127\.0\.0\.1:\d+ \(TLS 1\.2 only, ciphers [^;]+; client certificates required; mode plain; HTTP\/1\.1, HTTP\/2 and the line protocol; root \S+\)\n$/,
    );
    assert.equal(
      `securestream: ${listeningSummary(r as unknown as Parameters<typeof listeningSummary>[0])}`,
      l
        .replace(TIME, '')
        .replace(/^INFO: /, 'securestream: ')
        .trimEnd(),
    );
  });

  it('other records: the message and key=value pairs', () => {
    assert.match(line('shutting down'), /INFO: shutting down signal=SIGTERM connections=0\n$/);
    assert.match(line('stopped'), /INFO: stopped forced=0\n$/);
  });

  it('every line is one line, no JSON object behind it', () => {
    for (const r of raw) {
      const l = prettyFormatter(false)(r);
      assert.match(l, TIME);
      assert.equal(l.indexOf('\n'), l.length - 1, l);
      assert.ok(!l.includes('{"'), l);
    }
  });

  it('colour only when asked for', () => {
    const l = line('connection', (r) => r['request'] === 'big.bin');
    assert.ok(!l.includes(ESC));
    const i = records.findIndex((r) => r['msg'] === 'connection');
    assert.ok(prettyFormatter(true)(raw[i] as string).includes(`${ESC}[`));
  });

  it('serve --log-format pretty with stderr not a terminal: the same lines, no escape codes', () => {
    assert.ok(!pretty.includes(ESC), JSON.stringify(pretty));
    const lines = pretty.split('\n').filter(Boolean);
    for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR): /);
    // Three line-protocol connections, one HTTP connection and its request.
    assert.equal(lines.filter((l) => / INFO: #\d+ /.test(l)).length, 5, pretty);
    assert.equal(lines.filter((l) => /handshake failed/.test(l)).length, 1, pretty);
    // stdout is not a terminal: the banner is there for scripts, the log has its own line.
    assert.match(prettyBanner, /^securestream: listening on 127\.0\.0\.1:\d+ \(/);
    assert.equal(lines.filter((l) => / INFO: listening on /.test(l)).length, 1, pretty);
  });
});
