/**
 * Everyday HTTP clients with a client certificate against the server, each checking what it
 * can: wget (which sends no ALPN) and `wget -c`, aria2c verifying the Digest field over
 * several ranged connections, Python's urllib, and Node's fetch (undici) over HTTP/1.1 and
 * HTTP/2. Certificates come from the openssl CLI.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import {
  httpFixture,
  missing,
  reprDigestOf,
  sha256,
  type HttpFixture,
  type HttpPki,
} from '../helpers/http.js';
import { run, type ServerProcess } from '../helpers/proc.js';

describe('HTTP clients', () => {
  let fx: HttpFixture;
  let pki: HttpPki;
  let server: ServerProcess;
  let dir: string;
  const data = randomBytes(5 * 1024 * 1024 + 3);
  const dataSha = sha256(data);
  const url = (path: string): string => `https://localhost:${server.port}${path}`;
  const wgetTls = (): string[] => [
    `--ca-certificate=${pki.ca}`,
    `--certificate=${pki.client.cert}`,
    `--private-key=${pki.client.key}`,
  ];

  before(async () => {
    fx = await httpFixture({
      files: { 'data.bin': data, 'docs/a.txt': 'alpha\n' },
      rules: ['  - cn: alice', '    allow: "docs/**"', '  - cn: client', '    allow: "**"'],
    });
    ({ pki, server, dir } = fx);
  });
  after(async () => {
    await fx.remove();
  });

  it(
    'wget (no ALPN) downloads over HTTP/1.1, not the line protocol',
    { skip: missing('wget') },
    async () => {
      const since = server.logLines().length;
      const out = join(dir, 'wget.bin');
      const r = await run('wget', ['-q', ...wgetTls(), '-O', out, url('/data.bin')]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(out)).equals(data));
      const c = await server.waitForLog((x) => x['msg'] === 'connection', { since });
      assert.equal(c['alpn'], undefined, 'Debian wget is expected to send no ALPN');
      assert.equal(c['wire'], 'http/1.1');
      const l = await server.waitForLog((x) => x['msg'] === 'request', { since });
      assert.equal(l['status'], 200);
    },
  );

  it(
    'wget -c continues a partial file with a Range request',
    { skip: missing('wget') },
    async () => {
      const folder = join(dir, 'wget-c');
      await mkdir(folder);
      const kept = 1_234_567;
      await writeFile(join(folder, 'data.bin'), data.subarray(0, kept));
      const since = server.logLines().length;
      const r = await run('wget', ['-q', '-c', ...wgetTls(), '-P', folder, url('/data.bin')]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(join(folder, 'data.bin'))).equals(data));
      const l = await server.waitForLog((x) => x['msg'] === 'request', { since });
      assert.equal(l['status'], 206);
      assert.equal(l['range'], `bytes ${kept}-${data.length - 1}/${data.length}`);
      assert.equal(l['bytes'], data.length - kept);
    },
  );

  it(
    'aria2c splits the file over ranged connections and verifies the Digest field',
    { skip: missing('aria2c') },
    async () => {
      const folder = join(dir, 'aria');
      const since = server.logLines().length;
      const r = await run('aria2c', [
        `--ca-certificate=${pki.ca}`,
        `--certificate=${pki.client.cert}`,
        `--private-key=${pki.client.key}`,
        '--split=4',
        '--max-connection-per-server=4',
        '--min-split-size=1M',
        '--log=-',
        '--log-level=debug',
        '--console-log-level=warn',
        '--summary-interval=0',
        '-d',
        folder,
        '-o',
        'data.bin',
        url('/data.bin'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(join(folder, 'data.bin'))).equals(data));
      assert.match(r.stdout, /Want-Digest: .*SHA-256/);
      assert.match(r.stdout, /Setting digest: type=sha-256/);
      assert.match(r.stdout, /Verification finished successfully/);
      const reqs = server
        .logLines()
        .slice(since)
        .filter((x) => x['msg'] === 'request' && x['status'] === 206);
      assert.ok(reqs.length >= 2, `aria2c made ${reqs.length} ranged requests`);
    },
  );

  it(
    "Python's urllib fetches with a client certificate and gets 403 where the rules deny",
    { skip: missing('python3') },
    async () => {
      const script = [
        'import hashlib, json, ssl, sys, urllib.request, urllib.error',
        'ca, cert, key, base = sys.argv[1:5]',
        'ctx = ssl.create_default_context(cafile=ca)',
        'ctx.load_cert_chain(cert, key)',
        'out = {}',
        'with urllib.request.urlopen(base + "/data.bin", context=ctx) as r:',
        '    body = r.read()',
        '    out["full"] = [r.status, hashlib.sha256(body).hexdigest(), r.headers["Repr-Digest"], r.headers["ETag"]]',
        'req = urllib.request.Request(base + "/data.bin", headers={"Range": "bytes=10-19"})',
        'with urllib.request.urlopen(req, context=ctx) as r:',
        '    out["range"] = [r.status, r.read().hex(), r.headers["Content-Range"]]',
        'req = urllib.request.Request(base + "/docs/", headers={"Accept": "application/json"})',
        'with urllib.request.urlopen(req, context=ctx) as r:',
        '    out["listing"] = json.load(r)',
        'try:',
        '    urllib.request.urlopen(base + "/%2e%2e/etc/passwd", context=ctx)',
        'except urllib.error.HTTPError as e:',
        '    out["outside"] = [e.code, e.read().decode()]',
        'print(json.dumps(out))',
      ].join('\n');
      const r = await run('python3', [
        '-c',
        script,
        pki.ca,
        pki.client.cert,
        pki.client.key,
        url(''),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.deepEqual(out['full'], [200, dataSha, reprDigestOf(dataSha), `"sha256-${dataSha}"`]);
      assert.deepEqual(out['range'], [
        206,
        data.subarray(10, 20).toString('hex'),
        `bytes 10-19/${data.length}`,
      ]);
      const listing = out['listing'] as { entries: { name: string }[] };
      assert.deepEqual(
        listing.entries.map((e) => e.name),
        ['a.txt'],
      );
      assert.deepEqual(out['outside'], [403, 'forbidden: access denied\n']);
      const alice = await run('python3', [
        '-c',
        [
          'import ssl, sys, urllib.request, urllib.error',
          'ctx = ssl.create_default_context(cafile=sys.argv[1]); ctx.load_cert_chain(sys.argv[2], sys.argv[3])',
          'try:',
          '    urllib.request.urlopen(sys.argv[4] + "/data.bin", context=ctx); print("served")',
          'except urllib.error.HTTPError as e:',
          '    print(e.code, e.read().decode(), end="")',
        ].join('\n'),
        pki.ca,
        pki.alice.cert,
        pki.alice.key,
        url(''),
      ]);
      assert.equal(alice.stdout, '403 forbidden: access denied\n', alice.stderr);
    },
  );

  for (const allowH2 of [false, true]) {
    it(`Node's fetch (undici, ${allowH2 ? 'HTTP/2' : 'HTTP/1.1'}) with a client certificate`, async () => {
      const dispatcher = new Agent({
        allowH2,
        connect: {
          ca: readFileSync(pki.ca),
          cert: readFileSync(pki.client.cert),
          key: readFileSync(pki.client.key),
        },
      });
      try {
        const since = server.logLines().length;
        const target = `/data.bin?h2=${allowH2}`;
        const res = await fetch(url(target), { dispatcher });
        assert.equal(res.status, 200);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(sha256(body), dataSha);
        assert.equal(res.headers.get('repr-digest'), reprDigestOf(dataSha));
        const part = await fetch(url('/data.bin'), {
          dispatcher,
          headers: { range: 'bytes=-100', 'if-range': `"sha256-${dataSha}"` },
        });
        assert.equal(part.status, 206);
        assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(data.length - 100)));
        const listing = await fetch(url('/'), {
          dispatcher,
          headers: { accept: 'application/json' },
        });
        const json = (await listing.json()) as { entries: { name: string; sha256?: string }[] };
        assert.equal(json.entries.find((e) => e.name === 'data.bin')?.sha256, dataSha);
        const gone = await fetch(url('/nothing'), { dispatcher });
        assert.equal(gone.status, 404);
        await gone.text();
        const l = await server.waitForLog((x) => x['msg'] === 'request' && x['target'] === target, {
          since,
        });
        assert.equal(l['http'], allowH2 ? 'h2' : 'http/1.1');
      } finally {
        await dispatcher.close();
      }
    });
  }
});
