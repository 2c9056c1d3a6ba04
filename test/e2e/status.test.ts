/**
 * `serve --status-listen`: /healthz is 200 while serving and 503 from the first SIGTERM while
 * a transfer drains; /metrics is Prometheus text that Debian's `promtool check metrics`
 * accepts, whose counters match what clients did (downloads, a refusal, a rejected
 * certificate, bytes, a reload), with no client, file or address in any label; under
 * `--workers 2` the primary serves the sum over its workers.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { curl, curlTls, missing } from '../helpers/http.js';
import { runCli, startServer, type ServerProcess } from '../helpers/proc.js';
import { holdTransfer } from '../helpers/transfer.js';

const promtool = spawnSync('promtool', ['--version']).error
  ? "promtool is not installed (.ci/run installs Debian's prometheus)"
  : undefined;

/** GET http://127.0.0.1:PORT/PATH over plain HTTP: status and body. */
async function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

/** The status port from the `status listening` log line. */
async function statusPort(server: ServerProcess): Promise<number> {
  const line = await server.waitForLog((l) => l['msg'] === 'status listening');
  assert.equal(line['address'], '127.0.0.1');
  return Number(line['port']);
}

/** Sample values by metric name and exact label set, e.g. `x_total{a="b"}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A fixture with `files` and a server on it with `--status-listen 0`, and the status port. */
async function statusServer(
  files: Record<string, string | Buffer>,
): Promise<{ fx: Fixture; server: ServerProcess; port: number }> {
  const fx = await makeFixture(files);
  const server = await startServer([
    '--pki',
    fx.pki.pki,
    '--root',
    fx.root,
    '--status-listen',
    '0',
  ]);
  return { fx, server, port: await statusPort(server) };
}

describe('status endpoint', () => {
  let fx: Fixture;
  let server: ServerProcess;
  let port: number;
  const big = randomBytes(3 << 20);

  before(async () => {
    ({ fx, server, port } = await statusServer({ 'hello.txt': 'hello\n', 'big.bin': big }));
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  it('answers /healthz 200 while serving, 404 elsewhere, 405 to anything but GET and HEAD', async () => {
    // The banner says where the status endpoint is, as the "listening" record does.
    assert.ok(
      server.banner.endsWith(`; /healthz and /metrics on 127.0.0.1:${port})`),
      server.banner,
    );
    const listening = await server.waitForLog((l) => l['msg'] === 'listening');
    assert.equal(listening['statusListen'], `127.0.0.1:${port}`);
    assert.deepEqual(await get(port, '/healthz'), { status: 200, body: 'ok\n' });
    assert.equal((await get(port, '/healthz', 'HEAD')).status, 200);
    assert.equal((await get(port, '/', 'GET')).status, 404);
    assert.equal((await get(port, '/healthz', 'POST')).status, 405);
  });

  it(
    'counts downloads, refusals, rejected certificates, bytes and reloads; promtool accepts it',
    { skip: promtool },
    async () => {
      const ok = await cliGet(server.port, fx.pki.pki, 'big.bin', join(fx.path, 'a.bin'), [
        '--quiet',
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      const missing = await cliGet(server.port, fx.pki.pki, 'nope', join(fx.path, 'b'), [
        '--quiet',
      ]);
      assert.equal(missing.code, 4);
      const rogue = await runCli([
        'get',
        'hello.txt',
        '--server',
        `localhost:${server.port}`,
        '--ca',
        fx.pki.ca,
        '--cert',
        fx.pki.rogueClient.cert,
        '--key',
        fx.pki.rogueClient.key,
        '--out',
        join(fx.path, 'c'),
        '--quiet',
      ]);
      assert.equal(rogue.code, 3);
      await server.waitForLog((l) => l['msg'] === 'handshake failed');
      const since = server.logLines().length;
      process.kill(server.pid, 'SIGHUP');
      await server.waitForLog((l) => l['msg'] === 'reloaded', { since });
      await server.waitForLog((l) => l['msg'] === 'connection' && l['outcome'] === 'not-found');

      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const checked = promtoolCheck(text);
      assert.equal(checked.status, 0, checked.output);

      const m = samples(text);
      assert.equal(m.get('securestream_requests_total{protocol="line",outcome="ok"}'), 1);
      assert.equal(m.get('securestream_requests_total{protocol="line",outcome="not-found"}'), 1);
      assert.equal(m.get('securestream_handshakes_total{outcome="ok"}'), 2);
      assert.equal(m.get('securestream_handshakes_total{outcome="failed"}'), 1);
      assert.equal(m.get('securestream_handshakes_total{outcome="timeout"}'), 0);
      assert.equal(m.get('securestream_sent_bytes_total'), big.length);
      assert.equal(m.get('securestream_transfer_duration_seconds_count{protocol="line"}'), 1);
      assert.equal(m.get('securestream_reloads_total{trigger="signal",outcome="ok"}'), 1);
      assert.equal(m.get('securestream_reloads_total{trigger="signal",outcome="failed"}'), 0);
      assert.equal(m.get('securestream_connections_open'), 0);
      const notAfter = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;
      assert.equal(
        m.get('securestream_expiry_timestamp_seconds{material="certificate"}'),
        notAfter(await readFile(fx.pki.server.cert, 'utf8')),
      );
      assert.equal(
        m.get('securestream_expiry_timestamp_seconds{material="ca"}'),
        notAfter(await readFile(fx.pki.ca, 'utf8')),
      );
      assert.ok(m.has('process_cpu_seconds_total'), 'default process metrics');
      // bounded labels: nothing about who or what
      for (const leak of ['127.0.0.1', 'big.bin', 'nope', 'CN='])
        assert.ok(!text.includes(leak), `metrics mention ${leak}`);
    },
  );

  it('counts bytes of a transfer in flight, and turns /healthz 503 as soon as SIGTERM starts the drain', async () => {
    const held = await holdTransfer({
      port: server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'big.bin',
    });
    const before = samples((await get(port, '/metrics')).body);
    assert.equal(before.get('securestream_connections_open'), 1);
    const exited = once(server.proc, 'exit');
    process.kill(server.pid, 'SIGTERM');
    await server.waitForLog((l) => l['msg'] === 'shutting down');
    assert.deepEqual(await get(port, '/healthz'), { status: 503, body: 'draining\n' });
    assert.equal(server.proc.exitCode, null, 'still running while the transfer drains');
    const result = await held.finish();
    assert.equal(result.complete, true);
    // the server exits by itself once the transfer is done: wait, do not signal again
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    await assert.rejects(get(port, '/healthz'), 'the status endpoint closes with the server');
  });
});

describe('status endpoint: HTTP requests', { skip: promtool ?? missing('curl') }, () => {
  let fx: Fixture;
  let server: ServerProcess;
  let port: number;

  before(async () => {
    ({ fx, server, port } = await statusServer({ 'hello.txt': 'hello\n' }));
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  it('counts each HTTP request by protocol and outcome, not its connection', async () => {
    const url = (p: string): string => `https://localhost:${server.port}${p}`;
    const tls = curlTls(fx.pki.ca, fx.pki.client);
    // two requests on one connection each: HTTP/2, then HTTP/1.1 (kept alive)
    for (const [version, paths] of [
      ['--http2', ['/hello.txt', '/nope']],
      ['--http1.1', ['/hello.txt', '/hello.txt']],
    ] as const) {
      const r = await curl([version, ...tls, ...paths.flatMap((p) => ['-o', '/dev/null', url(p)])]);
      assert.equal(r.code, 0, r.stderr);
    }
    await server.waitForLog((l) => l['msg'] === 'connection' && l['wire'] === 'http/1.1');
    await server.waitForLog((l) => l['msg'] === 'connection' && l['wire'] === 'h2');
    const text = (await get(port, '/metrics')).body;
    const checked = promtoolCheck(text);
    assert.equal(checked.status, 0, checked.output);
    const m = samples(text);
    assert.equal(m.get('securestream_requests_total{protocol="h2",outcome="ok"}'), 1);
    assert.equal(m.get('securestream_requests_total{protocol="h2",outcome="not-found"}'), 1);
    assert.equal(m.get('securestream_requests_total{protocol="http/1.1",outcome="ok"}'), 2);
    assert.equal(m.get('securestream_requests_total{protocol="line",outcome="ok"}') ?? 0, 0);
    assert.equal(m.get('securestream_transfer_duration_seconds_count{protocol="h2"}'), 1);
    assert.equal(m.get('securestream_sent_bytes_total'), 3 * 'hello\n'.length);
  });
});

describe('status endpoint: an HTTP response in flight', () => {
  let fx: Fixture;
  let server: ServerProcess;
  let port: number;
  const size = 48 << 20; // far more than the loopback socket buffers hold

  before(async () => {
    fx = await makeFixture({ 'big.bin': randomBytes(size) });
    server = await startServer(['--pki', fx.pki.pki, '--root', fx.root, '--status-listen', '0']);
    port = await statusPort(server);
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  it('counts the bytes of a response while it is sent, each byte once, and logs the client gone mid-body', async () => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: server.port,
      path: '/big.bin',
      servername: 'localhost',
      ca: await readFile(fx.pki.ca),
      cert: await readFile(fx.pki.client.cert),
      key: await readFile(fx.pki.client.key),
      agent: false,
    });
    const responded = once(req, 'response');
    req.end();
    const [res] = (await responded) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    await once(res, 'data');
    res.pause(); // the server goes on until the socket buffers are full, then waits
    let sent = 0;
    for (const deadline = Date.now() + 10_000; sent === 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 50));
      sent = samples((await get(port, '/metrics')).body).get('securestream_sent_bytes_total') ?? 0;
    }
    assert.ok(sent > 0 && sent < size, `sent ${sent} of ${size} while the response is held`);
    assert.ok(!/"msg":"request"/.test(server.logs()), 'the request is still in flight');
    req.destroy();
    const line = await server.waitForLog((l) => l['msg'] === 'request');
    assert.equal(line['outcome'], 'client-gone');
    const after = samples((await get(port, '/metrics')).body);
    assert.equal(after.get('securestream_sent_bytes_total'), line['bytes']);
  });
});

describe('status endpoint under --workers 2', { skip: promtool }, () => {
  let fx: Fixture;
  let server: ServerProcess;

  before(async () => {
    fx = await makeFixture({ 'hello.txt': 'hello\n' });
    server = await startServer([
      '--pki',
      fx.pki.pki,
      '--root',
      fx.root,
      '--workers',
      '2',
      '--status-listen',
      '127.0.0.1:0',
    ]);
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  it('serves the sum over the workers from the primary', async () => {
    const port = await statusPort(server);
    assert.ok(
      server.banner.endsWith(`; 2 workers; /healthz and /metrics on 127.0.0.1:${port})`),
      server.banner,
    );
    for (let i = 0; i < 6; i++) {
      const r = await cliGet(server.port, fx.pki.pki, 'hello.txt', join(fx.path, `h${i}`), [
        '--quiet',
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const text = (await get(port, '/metrics')).body;
    const checked = promtoolCheck(text);
    assert.equal(checked.status, 0, checked.output);
    const m = samples(text);
    assert.equal(m.get('securestream_requests_total{protocol="line",outcome="ok"}'), 6);
    assert.equal(m.get('securestream_sent_bytes_total'), 36);
    const notAfter =
      Date.parse(new X509Certificate(await readFile(fx.pki.server.cert)).validTo) / 1000;
    assert.equal(m.get('securestream_expiry_timestamp_seconds{material="certificate"}'), notAfter);
    assert.equal((await get(port, '/healthz')).status, 200);
  });
});
