/**
 * `serve` either starts whole or not at all: every port is bound before the "listening" line,
 * a failure closes what was opened and exits 1 on its own (no SIGKILL needed), and a root that
 * would hand out a private key is refused before anything listens.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliServeRefuses, makeFixture, type Fixture } from '../helpers/fixture.js';
import { runCli, startServer, type RunResult } from '../helpers/proc.js';

/** Long enough for a loaded machine, far shorter than a hang. */
const EXIT_WITHIN_MS = 15_000;

describe('serve: a start that fails', () => {
  let fx: Fixture;
  let busy: Server;
  let busyPort: number;

  before(async () => {
    fx = await makeFixture({ 'a.txt': 'a\n' });
    busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    busyPort = (busy.address() as AddressInfo).port;
  });
  after(async () => {
    busy.close();
    await fx.remove();
  });

  for (const workers of ['1', '2']) {
    it(`--status-listen on a taken port (--workers ${workers}): exit 1, no "listening" line, gone without SIGKILL`, async () => {
      const r = await cliServeRefuses(
        fx.pki.pki,
        fx.root,
        ['--status-listen', `127.0.0.1:${busyPort}`, '--workers', workers, '--log-format', 'json'],
        EXIT_WITHIN_MS,
      );
      assert.equal(r.signal, null, `killed: ${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^securestream: error: cannot listen on --status-listen 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE`,
          'm',
        ),
      );
      assert.match(
        r.stderr,
        /^securestream: hint: choose another address or port for --status-listen$/m,
      );
      assert.doesNotMatch(r.stdout, /listening/);
      assert.doesNotMatch(r.stderr, /"msg":"listening"/);
    });
  }
});

describe('serve: private keys never inside the root', () => {
  let fx: Fixture;

  before(async () => {
    fx = await makeFixture({ 'a.txt': 'a\n' });
  });
  after(async () => {
    await fx.remove();
  });

  const refused = (
    r: { code: number | null; stdout: string; stderr: string },
    key: RegExp,
  ): void => {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, key);
    assert.match(r.stderr, /^securestream: hint: .*keep the PKI folder and every key outside it$/m);
    assert.doesNotMatch(r.stdout, /listening/);
  };

  it('refuses a root that holds the PKI folder (--root .)', async () => {
    // fx.path holds certs/pki and root/: the layout of `--root .` next to a pki/ folder.
    const r = await cliServeRefuses(fx.pki.pki, fx.path);
    refused(
      r,
      /^securestream: error: the private key ".*\/server\.key" lies inside --root ".*": clients could download it$/m,
    );
  });

  it('refuses the PKI folder itself as the root (--root pki)', async () => {
    const r = await cliServeRefuses(fx.pki.pki, fx.pki.pki);
    refused(r, /^securestream: error: the private key ".*\/server\.key" lies inside --root/m);
  });

  it('refuses --key under the root, and a ca.key beside --ca, through symlinks', async () => {
    // The root is a symlink to the folder that holds the key: real paths are compared.
    const link = join(fx.path, 'root-link');
    await symlink(fx.pki.pki, link);
    const r1 = await cliServeRefuses(fx.pki.pki, link);
    refused(r1, /lies inside --root ".*root-link"/);
    // Only the CA's key lies in the root (a copy of ca.crt + ca.key, the server key elsewhere).
    const caDir = join(fx.root, 'ca');
    await mkdir(caDir);
    await copyFile(fx.pki.ca, join(caDir, 'ca.crt'));
    await copyFile(fx.pki.caKey, join(caDir, 'ca.key'));
    const r2 = await runServeExplicit(fx, join(caDir, 'ca.crt'));
    refused(r2, /^securestream: error: the private key ".*\/ca\/ca\.key" lies inside --root/m);
  });

  it('starts when the keys lie outside, and warns of an access rules file inside the root', async () => {
    const rules = join(fx.root, 'access.yaml');
    await writeFile(rules, 'rules:\n  - anyone: true\n    allow: ["**"]\n');
    const s = await startServer(['--pki', fx.pki.pki, '--root', fx.root, '--access', rules]);
    try {
      const w = await s.waitForLog((l) => typeof l['warning'] === 'string');
      assert.match(
        String(w['warning']),
        /^the access rules file ".*access\.yaml" lies inside --root: clients the rules allow to read it can download it$/,
      );
    } finally {
      await s.stop();
    }
  });
});

function runServeExplicit(fx: Fixture, ca: string): Promise<RunResult> {
  return runCli([
    'serve',
    '--ca',
    ca,
    '--cert',
    fx.pki.server.cert,
    '--key',
    fx.pki.server.key,
    '--root',
    fx.root,
    '--port',
    '0',
  ]);
}
