/**
 * One EC P-256 PKI for every peer: `securestream pki init` when the CLI has it, otherwise the
 * test fixture generator. Both give ca.crt, server.crt/.key (localhost, 127.0.0.1, ::1) and
 * client.crt/.key.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from './paths.js';

export interface Pki {
  /** A `--pki` folder for securestream. */
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** How it was made. */
  source: string;
}

function files(dir: string, source: string): Pki | undefined {
  const p = {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    source,
  };
  const all = [p.ca, p.serverCert, p.serverKey, p.clientCert, p.clientKey];
  return all.every((f) => existsSync(f)) ? p : undefined;
}

export async function makePki(parent: string): Promise<Pki> {
  const dir = join(parent, 'pki');
  const r = spawnSync(process.execPath, [cliPath(), 'pki', 'init', '--dir', dir], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const viaCli = r.status === 0 ? files(dir, 'securestream pki init (EC P-256)') : undefined;
  if (viaCli) return viaCli;
  // Not wired yet (or failed): the fixture generator of the tests, also EC P-256.
  const { makeTestPki } = await import('../test/helpers/pki.js');
  const t = await makeTestPki(join(parent, 'fixture'));
  const why = (r.stderr || r.stdout).trim().split('\n')[0] ?? '';
  const viaFixture = files(t.pki, `makeTestPki from test/helpers (pki init failed: ${why})`);
  if (!viaFixture) throw new Error(`no PKI: pki init said "${why}" and the fixture is incomplete`);
  return viaFixture;
}
