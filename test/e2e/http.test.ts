/**
 * HTTP semantics with curl as the client, over HTTP/1.1 and HTTP/2 on the line protocol's
 * port: whole files, ranges, conditional requests, HEAD, methods, folders, keep-alive, and the
 * log line of every request. Certificates come from the openssl CLI.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  curl,
  curlFetch,
  curlTls,
  httpFixture,
  missing,
  parseHeaderDump,
  reprDigestOf,
  sha256,
  type HttpFixture,
} from '../helpers/http.js';

const VERSIONS = [
  ['HTTP/1.1', '--http1.1', '1.1'],
  ['HTTP/2', '--http2', '2'],
] as const;

describe('HTTP with curl', { skip: missing('curl') }, () => {
  let fx: HttpFixture;
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const dataSha = sha256(data);
  const url = (path: string): string => `https://localhost:${fx.server.port}${path}`;
  const tls = (): string[] => curlTls(fx.pki.ca, fx.pki.client);
  /** curl with the client certificate; the last head and the body come back. */
  const fetch = (...args: string[]) => curlFetch(fx.dir, [...tls(), ...args]);

  before(async () => {
    fx = await httpFixture({
      files: { 'data.bin': data, 'hello.txt': 'hello\n', 'sub/nested name.txt': 'nested\n' },
    });
  });
  after(async () => {
    await fx.remove();
  });

  for (const [label, flag, version] of VERSIONS) {
    it(`${label}: a whole file, byte for byte, with ETag, Repr-Digest and one log line`, async () => {
      const { server } = fx;
      const since = server.logLines().length;
      // A query of its own tells this request's log line from earlier tests' late ones.
      const target = `/data.bin?whole=${version}`;
      const r = await fetch(flag, url(target));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.body.equals(data), 'body differs from the file');
      const h = r.head;
      assert.equal(h?.version, version);
      assert.equal(h.status, 200);
      assert.equal(h.fields['content-length'], String(data.length));
      assert.equal(h.fields['etag'], `"sha256-${dataSha}"`);
      assert.equal(h.fields['repr-digest'], reprDigestOf(dataSha));
      assert.equal(h.fields['accept-ranges'], 'bytes');
      assert.equal(h.fields['content-type'], 'application/octet-stream');
      assert.match(
        h.fields['last-modified'] ?? '',
        /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/,
      );
      const l = await server.waitForLog((x) => x['msg'] === 'request' && x['target'] === target, {
        since,
      });
      assert.equal(l['http'], version === '2' ? 'h2' : 'http/1.1');
      assert.equal(l['method'], 'GET');
      assert.equal(l['status'], 200);
      assert.equal(l['outcome'], 'ok');
      assert.equal(l['bytes'], data.length);
      assert.equal(l['sha256'], dataSha);
      assert.equal(l['subject'], 'CN=client');
      assert.equal(typeof l['conn'], 'string');
      assert.equal(typeof l['durationMs'], 'number');
      const c = await server.waitForLog(
        (x) => x['msg'] === 'connection' && x['conn'] === l['conn'],
        { since },
      );
      assert.equal(c['wire'], version === '2' ? 'h2' : 'http/1.1');
      assert.equal(c['alpn'], version === '2' ? 'h2' : 'http/1.1');
      assert.equal(c['requests'], 1);
    });

    it(`${label}: single ranges give 206 with Content-Range and the whole file's digest`, async () => {
      const cases: [string, number, number][] = [
        ['0-99', 0, 99],
        ['1000000-', 1000000, data.length - 1],
        ['-500', data.length - 500, data.length - 1],
        [`100-${data.length + 1000}`, 100, data.length - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await fetch(flag, '-r', range, url('/data.bin'));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.head?.status, 206, range);
        assert.equal(r.head.fields['content-range'], `bytes ${start}-${end}/${data.length}`);
        assert.equal(r.head.fields['content-length'], String(end - start + 1));
        assert.equal(r.head.fields['repr-digest'], reprDigestOf(dataSha));
        assert.ok(r.body.equals(data.subarray(start, end + 1)), range);
      }
    });

    it(`${label}: a range past the end is 416 with the size`, async () => {
      const r = await fetch(flag, '-r', `${data.length}-`, url('/data.bin'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.head?.status, 416);
      assert.equal(r.head.fields['content-range'], `bytes */${data.length}`);
    });

    it(`${label}: If-None-Match gives 304; If-Range gives the range only for the current ETag`, async () => {
      const etag = `"sha256-${dataSha}"`;
      const stale = `"sha256-${'0'.repeat(64)}"`;
      const same = await fetch(flag, '-H', `If-None-Match: ${etag}`, url('/data.bin'));
      assert.equal(same.head?.status, 304);
      assert.equal(same.body.length, 0, 'a 304 has no body');
      const old = await fetch(flag, '-r', '0-9', '-H', `If-Range: ${stale}`, url('/data.bin'));
      assert.equal(old.head?.status, 200);
      assert.ok(old.body.equals(data), 'a stale If-Range must give the whole file');
      const cur = await fetch(flag, '-r', '0-9', '-H', `If-Range: ${etag}`, url('/data.bin'));
      assert.equal(cur.head?.status, 206);
      assert.ok(cur.body.equals(data.subarray(0, 10)));
      const match = await fetch(flag, '-H', `If-Match: ${stale}`, url('/data.bin'));
      assert.equal(match.head?.status, 412);
    });

    it(`${label}: HEAD gives the head alone; other methods get 405 with Allow`, async () => {
      const head = await fetch(flag, '-I', url('/hello.txt'));
      assert.equal(head.code, 0, head.stderr);
      assert.equal(head.head?.status, 200);
      assert.equal(head.head.fields['content-length'], '6');
      assert.equal(head.head.fields['repr-digest'], reprDigestOf(sha256(Buffer.from('hello\n'))));
      const post = await fetch(flag, '-X', 'POST', url('/hello.txt'));
      assert.equal(post.head?.status, 405);
      assert.equal(post.head.fields['allow'], 'GET, HEAD');
    });

    it(`${label}: --fail exits 22 on 404 and on 403`, async () => {
      const missingFile = await fetch(flag, '--fail', url('/nothing.bin'));
      assert.equal(missingFile.code, 22);
      assert.match(missingFile.stderr, /404/);
      const outside = await fetch(flag, '--fail', '--path-as-is', url('/../etc/passwd'));
      assert.equal(outside.code, 22);
      assert.match(outside.stderr, /403/);
    });
  }

  it('a percent-encoded name with a space reaches the file', async () => {
    const r = await fetch(url('/sub/nested%20name.txt'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body.toString(), 'nested\n');
  });

  it('folders: JSON on request, HTML otherwise, paged with next, and /sub redirects to /sub/', async () => {
    await mkdir(join(fx.root, 'many'), { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(join(fx.root, 'many', `f${i}`), String(i));
    const pages: string[][] = [];
    let next: string | undefined = '/many/?limit=2';
    while (next !== undefined) {
      const r = await fetch('-H', 'Accept: application/json', url(next));
      assert.equal(r.code, 0, r.stderr);
      const page = JSON.parse(r.body.toString()) as {
        format: string;
        folder: string;
        entries: { name: string; type: string; size: number; mtime: string }[];
        next?: string;
      };
      assert.equal(page.format, 'securestream-listing/1');
      assert.equal(page.folder, 'many/');
      for (const e of page.entries) {
        assert.equal(e.type, 'file');
        assert.equal(e.size, 1);
        assert.match(e.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      pages.push(page.entries.map((e) => e.name));
      next = page.next;
    }
    assert.deepEqual(pages, [['f0', 'f1'], ['f2', 'f3'], ['f4']]);
    const html = await fetch(url('/'));
    assert.equal(html.head?.fields['content-type'], 'text/html; charset=utf-8');
    assert.equal(html.head.fields['content-security-policy'], "default-src 'none'");
    const page = html.body.toString();
    assert.ok(page.includes('<a href="/sub/">sub/</a>'), page);
    assert.ok(page.includes('<a href="/data.bin">data.bin</a>'), page);
    const moved = await fetch(url('/sub'));
    assert.equal(moved.head?.status, 301);
    assert.equal(moved.head.fields['location'], '/sub/');
  });

  it('Want-Digest: SHA-256 is answered with the legacy Digest field', async () => {
    const r = await fetch('-H', 'Want-Digest: SHA-512;q=1, SHA-256;q=0.5', url('/hello.txt'));
    assert.equal(
      r.head?.fields['digest'],
      `SHA-256=${Buffer.from(sha256(Buffer.from('hello\n')), 'hex').toString('base64')}`,
    );
  });

  for (const [label, flag] of VERSIONS) {
    it(`${label}: many URLs in one curl run share one kept-alive connection`, async () => {
      const { server } = fx;
      const since = server.logLines().length;
      const outs = Array.from({ length: 5 }, (_, i) => join(fx.dir, `keep-${flag}-${i}`));
      const dump = join(fx.dir, `keep-${flag}.head`);
      const args = outs.flatMap((o) => ['-o', o, url('/hello.txt')]);
      const r = await curl([flag, ...tls(), '-D', dump, ...args]);
      assert.equal(r.code, 0, r.stderr);
      for (const o of outs) assert.equal(await readFile(o, 'utf8'), 'hello\n');
      assert.deepEqual(
        parseHeaderDump(await readFile(dump, 'latin1')).map((h) => h.status),
        [200, 200, 200, 200, 200],
      );
      // The previous test's connection may log its close after `since`: follow this run's.
      const first = await server.waitForLog(
        (x) => x['msg'] === 'request' && x['target'] === '/hello.txt',
        { since },
      );
      const c = await server.waitForLog(
        (x) => x['msg'] === 'connection' && x['conn'] === first['conn'],
        { since },
      );
      assert.equal(c['requests'], 5);
      const reqs = server
        .logLines()
        .slice(since)
        .filter((x) => x['msg'] === 'request');
      assert.equal(reqs.length, 5);
      assert.ok(reqs.every((x) => x['conn'] === c['conn']));
    });
  }
});
