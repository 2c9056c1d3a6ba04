import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runPkiInit, runPkiIssueClient, runPkiRevoke } from '../../src/commands/pki.js';
import { tempDir } from '../helpers/pki.js';

let root: string;
before(async () => {
  root = await tempDir('commands');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function capture(): { lines: string[]; out: (line: string) => void } {
  const lines: string[] = [];
  return { lines, out: (line) => lines.push(line) };
}

describe('pki commands', () => {
  let dir: string;
  before(() => {
    dir = join(root, 'pki');
  });

  test('init prints every file, key type, server names and validity end', async () => {
    const { lines, out } = capture();
    const r = await runPkiInit({ dir, sans: ['files.example'], clients: ['client', 'bob'] }, out);
    const text = lines.join('\n');
    assert.match(lines[0] ?? '', new RegExp(`^created an EC P-256 PKI in ${dir}$`));
    for (const f of ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'bob.crt', 'bob.key']) {
      assert.ok(text.includes(`wrote ${join(dir, f)}`), f);
    }
    assert.ok(text.includes(`wrote ${join(dir, 'bob.key')} (mode 0600)`));
    assert.ok(text.includes('server names: localhost, 127.0.0.1, ::1, files.example'));
    assert.ok(text.includes('clients: client, bob'));
    const end = r.leafNotAfter.toISOString().slice(0, 10);
    assert.ok(text.includes(`certificates valid until ${end}`), text);
    assert.ok(lines.every((l) => !l.includes('\n')));
  });

  test('init on an existing PKI throws pki-exists before printing anything', async () => {
    const { lines, out } = capture();
    await assert.rejects(runPkiInit({ dir }, out), { code: 'pki-exists' });
    assert.deepEqual(lines, []);
  });

  test('init --force says which leaves of the replaced CA it removed, and why', async () => {
    const d = join(root, 'force');
    await runPkiInit({ dir: d, clients: ['client', 'dave'] }, () => undefined);
    const { lines, out } = capture();
    await runPkiInit({ dir: d, force: true }, out);
    assert.deepEqual(
      lines.filter((l) => l.includes('removed')),
      [
        `  removed ${join(d, 'dave.crt')} (issued by the replaced CA: it can never verify again)`,
        `  removed ${join(d, 'dave.key')} (the key of a certificate the replaced CA issued)`,
      ],
    );
  });

  test('init --key-type rsa names the RSA size', async () => {
    const { lines, out } = capture();
    await runPkiInit({ dir: join(root, 'rsa'), keyType: 'rsa', rsaBits: 2048 }, out);
    assert.match(lines[0] ?? '', /^created an RSA-2048 PKI in /);
  });

  test('issue-client prints paths, key type and serial', async () => {
    const { lines, out } = capture();
    const r = await runPkiIssueClient({ dir, name: 'carol', days: 10 }, out);
    assert.deepEqual(lines.slice(0, 3), [
      'issued client certificate "carol" (EC P-256)',
      `  wrote ${join(dir, 'carol.crt')}`,
      `  wrote ${join(dir, 'carol.key')} (mode 0600)`,
    ]);
    assert.match(
      lines[3] ?? '',
      new RegExp(`^serial ${r.serialHex}, valid until \\d{4}-\\d\\d-\\d\\d$`),
    );
  });

  test('revoke prints serial, CRL path and the SIGHUP hint; a repeat says so', async () => {
    const first = capture();
    const r = await runPkiRevoke({ dir, target: 'carol' }, first.out);
    assert.equal(first.lines[0], `revoked "carol" (serial ${r.serialHex})`);
    assert.ok(first.lines[1]?.includes(join(dir, 'crl.pem')));
    assert.match(first.lines.join('\n'), /SIGHUP/);
    const again = capture();
    const r2 = await runPkiRevoke({ dir, target: 'carol' }, again.out);
    assert.equal(r2.alreadyRevoked, true);
    assert.deepEqual(again.lines, [
      `"carol" (serial ${r.serialHex}) was already revoked; ${join(dir, 'crl.pem')} is unchanged`,
    ]);
  });

  test('revoke by serial names the serial only', async () => {
    const { lines, out } = capture();
    await runPkiRevoke({ dir, target: 'AB:CD' }, out);
    assert.equal(lines[0], 'revoked serial abcd');
  });
});
