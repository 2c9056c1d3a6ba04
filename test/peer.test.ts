/**
 * PeerIdentityCache over real TLS connections: the cached identity is the one peerIdentity()
 * reads, a returning certificate is served from the cache, and the cache stays bounded.
 */
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { PeerIdentityCache, peerIdentity, type PeerIdentity } from '../src/transport/peer.js';
import { makeTestPki, tempDir, type CertFiles, type TestPki } from './helpers/pki.js';

describe('PeerIdentityCache', () => {
  let pki: TestPki;
  let dir: string;
  before(async () => {
    dir = await tempDir('peer-');
    pki = await makeTestPki(dir);
  });
  after(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });

  /** Connects once with each client in turn; returns [cached, uncached] identities per connection. */
  async function identities(
    cache: PeerIdentityCache,
    clients: CertFiles[],
  ): Promise<[PeerIdentity | undefined, PeerIdentity | undefined][]> {
    const seen: [PeerIdentity | undefined, PeerIdentity | undefined][] = [];
    const server = createServer(
      {
        ca: await readFile(pki.ca),
        cert: await readFile(pki.server.cert),
        key: await readFile(pki.server.key),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s: TLSSocket) => {
        seen.push([cache.identify(s), peerIdentity(s)]);
        s.end();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      for (const c of clients) {
        const sock = connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: await readFile(pki.ca),
          cert: await readFile(c.cert),
          key: await readFile(c.key),
        });
        sock.resume();
        await new Promise<void>((resolve, reject) => {
          sock.on('close', () => {
            resolve();
          });
          sock.on('error', reject);
        });
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
    return seen;
  }

  it('gives what peerIdentity reads, and the same object for a returning certificate', async () => {
    const cache = new PeerIdentityCache();
    const got = await identities(cache, [pki.client, pki.client2, pki.client]);
    assert.equal(got.length, 3);
    for (const [cached, fresh] of got) assert.deepEqual(cached, fresh);
    assert.equal(got[0]?.[0]?.subject, 'CN=client');
    assert.equal(got[1]?.[0]?.subject, 'CN=client2');
    const cached = got.map(([c]) => c);
    assert.equal(cached[2], cached[0], 'the second connection of client is a cache hit');
    assert.equal(cache.size, 2);
  });

  it('holds at most its capacity, dropping the least recently seen', async () => {
    const cache = new PeerIdentityCache(1);
    const got = await identities(cache, [pki.client, pki.client2, pki.client]);
    assert.equal(cache.size, 1);
    const cached = got.map(([c]) => c);
    assert.notEqual(cached[2], cached[0], 'client was evicted by client2 and read again');
    assert.deepEqual(cached[2], cached[0]);
  });
});
