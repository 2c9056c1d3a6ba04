/**
 * Bring your own PKI (issue 9): certificates made by the openssl CLI as organisations make
 * them — intermediates on either side, a server CA apart from the client CA, intermediate-only
 * trust, old-style roots, every key type — through real `serve` and `get` processes. Each case
 * checks the exit code, the message or log line, and that file bytes reach a client only when
 * it should get them. CRLs are in byo-crl.test.ts.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { rawExchange } from '../helpers/raw.js';
import {
  EXT,
  OpensslPki,
  opensslRun,
  type CaFiles,
  type CertFiles,
  type KeyAlg,
} from '../helpers/opensslpki.js';
import {
  runCli,
  startServer,
  tempDir,
  type RunResult,
  type ServerProcess,
} from '../helpers/proc.js';

const BODY = 'bring your own pki\n';

/** Fields a refusal log line names the presented certificate with. */
async function identityOf(certPath: string): Promise<Record<string, string>> {
  const x = new X509Certificate(await readFile(certPath));
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    serial: x.serialNumber.toLowerCase().replace(/^0+/, ''),
    fingerprint256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

describe('bring your own PKI', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let p: OpensslPki;
  const servers: ServerProcess[] = [];
  // client side: client-root → client-inter → leaves
  let clientRoot: CaFiles;
  let clientInter: CaFiles;
  let alice: CertFiles;
  let aliceChain: string;
  // server side: server-root → server-inter → server leaf, and a client certificate from it
  let serverRoot: CaFiles;
  let serverInter: CaFiles;
  let server: CertFiles;
  let serverChain: string;
  let mallory: CertFiles;
  let malloryChain: string;
  let serverA: ServerProcess;
  let outN = 0;

  const serve = async (ca: string, cert: string, key: string): Promise<ServerProcess> => {
    const s = await startServer(['--ca', ca, '--cert', cert, '--key', key, '--root', root]);
    servers.push(s);
    return s;
  };
  const serveRefuses = (ca: string, cert: string, key: string): Promise<RunResult> =>
    runCli(['serve', '--ca', ca, '--cert', cert, '--key', key, '--root', root, '--port', '0']);
  /** `get hello.txt` into a fresh folder; returns the result and that folder's listing. */
  const get = async (port: number, ca: string, cert: string, key: string, extra: string[] = []) => {
    const out = join(tmp.path, `out-${++outN}`);
    await mkdir(out);
    const r = await runCli([
      'get',
      'hello.txt',
      '--server',
      `localhost:${port}`,
      '--ca',
      ca,
      '--cert',
      cert,
      '--key',
      key,
      '--out',
      join(out, 'hello.txt'),
      ...extra,
    ]);
    return { r, out, files: await readdir(out) };
  };
  const gotFile = async (g: Awaited<ReturnType<typeof get>>): Promise<void> => {
    assert.equal(g.r.code, 0, g.r.stderr);
    assert.equal(await readFile(join(g.out, 'hello.txt'), 'utf8'), BODY);
    assert.match(g.r.stdout, /^[0-9a-f]{64} {2}.*hello\.txt\n$/);
  };
  const refused = (g: Awaited<ReturnType<typeof get>>): void => {
    assert.equal(g.r.code, 3, g.r.stderr);
    assert.match(g.r.stderr, /^securestream: error: /m);
    assert.deepEqual(g.files, [], 'nothing may be stored');
  };
  /** A raw client with `client` is refused: no byte arrives, and the log names it and why. */
  const refusedAndLogged = async (
    s: ServerProcess,
    client: { cert: string; key: string; leaf: string } | undefined,
    cause: string,
    reason: RegExp,
  ): Promise<Record<string, unknown>> => {
    const since = s.logLines().length;
    const r = await rawExchange({
      port: s.port,
      ca: serverRoot.cert,
      client,
      send: 'GET hello.txt\n',
    });
    assert.equal(r.received.length, 0, 'no protocol byte may reach a refused client');
    const line = await s.waitForLog((l) => l['outcome'] === 'handshake-failed', { since });
    assert.equal(line['cause'], cause, JSON.stringify(line));
    assert.match(String(line['reason']), reason);
    if (client) {
      for (const [k, v] of Object.entries(await identityOf(client.leaf))) {
        assert.equal(line[k], v, `log field ${k}`);
      }
    }
    return line;
  };

  before(async () => {
    tmp = await tempDir();
    root = join(tmp.path, 'root');
    await mkdir(root);
    await writeFile(join(root, 'hello.txt'), BODY);
    p = new OpensslPki(join(tmp.path, 'pki'));
    clientRoot = p.root('client-root');
    clientInter = p.issue(clientRoot, 'client-inter', { ext: EXT.intermediate });
    alice = p.issue(clientInter, 'alice', { ext: EXT.client });
    aliceChain = p.concat('alice-chain.pem', alice.cert, clientInter.cert);
    serverRoot = p.root('server-root');
    serverInter = p.issue(serverRoot, 'server-inter', { ext: EXT.intermediate });
    server = p.issue(serverInter, 'server', { ext: EXT.server });
    serverChain = p.concat('server-chain.pem', server.cert, serverInter.cert);
    mallory = p.issue(serverInter, 'mallory', { ext: EXT.client });
    malloryChain = p.concat('mallory-chain.pem', mallory.cert, serverInter.cert);
    serverA = await serve(clientRoot.cert, serverChain, server.key);
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await tmp.remove();
  });

  it('1+2: server and client chains through intermediates, from separate CAs', async () => {
    await gotFile(await get(serverA.port, serverRoot.cert, aliceChain, alice.key));
  });

  it("2: a client certificate from the server's CA is refused (--ca alone names client CAs)", async () => {
    refused(await get(serverA.port, serverRoot.cert, malloryChain, mallory.key));
    const line = await refusedAndLogged(
      serverA,
      { cert: malloryChain, key: mallory.key, leaf: mallory.cert },
      'unknown-ca',
      /^client certificate from an unknown CA: "CN=server-root" is not a CA of --ca$/,
    );
    assert.equal(line['verifyError'], 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });

  it('1: intermediates in --ca instead of the certificate file, on both sides', async () => {
    const bundle = p.concat('client-bundle.pem', clientRoot.cert, clientInter.cert);
    const s = await serve(bundle, server.cert, server.key);
    const serverBundle = p.concat('server-bundle.pem', serverRoot.cert, serverInter.cert);
    await gotFile(await get(s.port, serverBundle, alice.cert, alice.key));
    // and the leaf alone does not chain without them
    refused(await get(s.port, serverRoot.cert, alice.cert, alice.key));
  });

  it('1: a chain file whose link is broken is refused at start, naming the link', async () => {
    const wrong = p.concat('server-wrong-chain.pem', server.cert, clientInter.cert);
    const r = await serveRefuses(clientRoot.cert, wrong, server.key);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /securestream: error: certificate 2 in ".*server-wrong-chain\.pem" \(CN=client-inter\) did not issue certificate 1 \(CN=server, issued by CN=server-inter\)/,
    );
    const g = await get(
      serverA.port,
      serverRoot.cert,
      p.concat('alice-wrong.pem', alice.cert, serverInter.cert),
      alice.key,
    );
    assert.equal(g.r.code, 1);
    assert.match(
      g.r.stderr,
      /certificate 2 in ".*alice-wrong\.pem" \(CN=server-inter\) did not issue certificate 1/,
    );
    assert.deepEqual(g.files, []);
  });

  it('3: an intermediate alone as the trust anchor, on both sides', async () => {
    const s = await serve(clientInter.cert, serverChain, server.key);
    await gotFile(await get(s.port, serverInter.cert, alice.cert, alice.key));
    await gotFile(await get(s.port, serverInter.cert, aliceChain, alice.key));
    // the anchor is that intermediate only: another client of the same root is not let in
    const bob = p.issue(clientRoot, 'bob', { ext: EXT.client });
    refused(await get(s.port, serverInter.cert, bob.cert, bob.key));
    await refusedAndLogged(
      s,
      { ...bob, leaf: bob.cert },
      'unknown-ca',
      /"CN=client-root" is not a CA of --ca/,
    );
  });

  it('4: a version 1 root and a root without basicConstraints are trust anchors', async () => {
    const v1 = p.root('v1-root', { ext: null });
    const noBc = p.root('no-bc-root', { ext: EXT.rootNoBasicConstraints });
    assert.match(opensslRun(['x509', '-in', v1.cert, '-noout', '-text']), /Version: 1 \(0x0\)/);
    assert.doesNotMatch(
      opensslRun(['x509', '-in', noBc.cert, '-noout', '-text']),
      /Basic Constraints/,
    );
    const carol = p.issue(v1, 'carol', { ext: EXT.client });
    const s2 = p.issue(noBc, 'server-nobc', { ext: EXT.server });
    const s = await serve(v1.cert, s2.cert, s2.key);
    await gotFile(await get(s.port, noBc.cert, carol.cert, carol.key));
  });

  const keys: [KeyAlg, RegExp][] = [
    ['rsa2048', /ECDHE-RSA-AES128-GCM-SHA256/],
    ['rsa4096', /ECDHE-RSA-AES128-GCM-SHA256/],
    ['p256', /ECDHE-ECDSA-AES128-GCM-SHA256/],
    ['p384', /ECDHE-ECDSA-AES128-GCM-SHA256/],
    ['p521', /ECDHE-ECDSA-AES128-GCM-SHA256/],
    ['ed25519', /ECDHE-ECDSA-AES128-GCM-SHA256/],
  ];
  for (const [alg, suite] of keys) {
    it(`5: ${alg} keys on both sides with the default policy`, async () => {
      const srv = p.issue(serverInter, `server-${alg}`, { ext: EXT.server, alg });
      const cli = p.issue(clientInter, `client-${alg}`, { ext: EXT.client, alg });
      const s = await serve(
        clientRoot.cert,
        p.concat(`server-${alg}-chain.pem`, srv.cert, serverInter.cert),
        srv.key,
      );
      assert.match(s.banner, suite);
      const g = await get(
        s.port,
        serverRoot.cert,
        p.concat(`client-${alg}-chain.pem`, cli.cert, clientInter.cert),
        cli.key,
        ['--verbose'],
      );
      await gotFile(g);
      assert.match(g.r.stderr, new RegExp(`with TLSv1\\.2 ${suite.source}`));
    });
  }

  it('5: keys TLS cannot use are refused at start with the limit', async () => {
    const k1 = p.issue(serverInter, 'server-k1', { ext: EXT.server, alg: 'secp256k1' });
    const r = await serveRefuses(clientRoot.cert, k1.cert, k1.key);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /its EC key is on curve secp256k1, which TLS peers do not offer/);
    const small = p.issue(clientInter, 'client-rsa1024', { ext: EXT.client, alg: 'rsa1024' });
    const g = await get(serverA.port, serverRoot.cert, small.cert, small.key);
    assert.equal(g.r.code, 1);
    assert.match(g.r.stderr, /its 1024-bit RSA key is outside 2048-16384 bits/);
  });

  it('8: keyUsage without digitalSignature: refused at start by get, named in the server log', async () => {
    const dave = p.issue(clientInter, 'dave', { ext: EXT.clientNoSignature });
    const chain = p.concat('dave-chain.pem', dave.cert, clientInter.cert);
    const g = await get(serverA.port, serverRoot.cert, chain, dave.key);
    assert.equal(g.r.code, 1);
    assert.match(g.r.stderr, /has key usage keyEncipherment; a client needs digitalSignature/);
    assert.deepEqual(g.files, []);
    await refusedAndLogged(
      serverA,
      { cert: chain, key: dave.key, leaf: dave.cert },
      'key-usage',
      /^client certificate key usage \(keyEncipherment\) lacks digitalSignature$/,
    );
  });

  it('8: a server certificate whose keyUsage fits no suite is refused at start', async () => {
    const ke = p.issue(serverInter, 'server-ke', {
      ext: 'keyUsage=critical,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n',
    });
    const r = await serveRefuses(clientRoot.cert, ke.cert, ke.key);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ECDHE-ECDSA-AES128-GCM-SHA256 \(needs keyUsage digitalSignature\)/);
  });

  it('8: a certificate without clientAuth is named with its extended key usage', async () => {
    const eve = p.issue(clientInter, 'eve', { ext: EXT.serverOnlyAsClient });
    await refusedAndLogged(
      serverA,
      { cert: p.concat('eve-chain.pem', eve.cert, clientInter.cert), key: eve.key, leaf: eve.cert },
      'extended-key-usage',
      /extended key usage \(1\.3\.6\.1\.5\.5\.7\.3\.1\) lacks clientAuth/,
    );
  });

  it('9: an expired intermediate is named, not the valid leaf', async () => {
    const old = p.issue(clientRoot, 'client-inter-old', {
      ext: EXT.intermediate,
      start: -60,
      end: -1,
    });
    const erin = p.issue(old, 'erin', { ext: EXT.client, start: -30, end: 300 });
    const chain = p.concat('erin-chain.pem', erin.cert, old.cert);
    const line = await refusedAndLogged(
      serverA,
      { cert: chain, key: erin.key, leaf: erin.cert },
      'intermediate-expired',
      /^intermediate CA "CN=client-inter-old" in the client's chain expired on \d{4}-\d\d-\d\dT.*; the client certificate itself is valid$/,
    );
    assert.equal(line['culprit'], 'CN=client-inter-old');
    assert.equal(line['verifyError'], 'CERT_HAS_EXPIRED');
    const g = await get(serverA.port, serverRoot.cert, chain, erin.key);
    assert.equal(g.r.code, 1);
    assert.match(
      g.r.stderr,
      /intermediate "CN=client-inter-old" \(certificate 2 in ".*erin-chain\.pem"\) expired on/,
    );
  });

  it("9: get says when an intermediate of the server's chain expired, not the server's own", async () => {
    // serve refuses to start with such a chain, so a bare node:tls server sends it
    const old = p.issue(serverRoot, 'server-inter-old', {
      ext: EXT.intermediate,
      start: -60,
      end: -1,
    });
    const leaf = p.issue(old, 'server-under-old', { ext: EXT.server, start: -30, end: 300 });
    const bare = createServer({
      cert: await readFile(p.concat('server-old-chain.pem', leaf.cert, old.cert), 'utf8'),
      key: await readFile(leaf.key, 'utf8'),
      ca: await readFile(clientRoot.cert, 'utf8'),
      requestCert: true,
    });
    bare.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    try {
      const g = await get(
        (bare.address() as AddressInfo).port,
        serverRoot.cert,
        aliceChain,
        alice.key,
      );
      refused(g);
      const until = new X509Certificate(await readFile(leaf.cert)).validTo;
      assert.ok(
        g.r.stderr.includes(
          `securestream: error: a CA certificate in the server's chain has expired (the server's certificate itself is valid until ${until})`,
        ),
        g.r.stderr,
      );
    } finally {
      bare.close();
    }
  });

  it('refusals name an expired leaf, a leaf not yet valid, and a missing certificate', async () => {
    const frank = p.issue(clientInter, 'frank', { ext: EXT.client, start: -30, end: -1 });
    await refusedAndLogged(
      serverA,
      {
        cert: p.concat('frank-chain.pem', frank.cert, clientInter.cert),
        key: frank.key,
        leaf: frank.cert,
      },
      'expired',
      /^client certificate expired on \d{4}-/,
    );
    const gina = p.issue(clientInter, 'gina', { ext: EXT.client, start: 1, end: 30 });
    await refusedAndLogged(
      serverA,
      {
        cert: p.concat('gina-chain.pem', gina.cert, clientInter.cert),
        key: gina.key,
        leaf: gina.cert,
      },
      'not-yet-valid',
      /^client certificate not yet valid: not before \d{4}-/,
    );
    await refusedAndLogged(serverA, undefined, 'no-certificate', /client sent no certificate/);
  });
});
