/**
 * Unicode names: matched byte for byte; a name found only in the other normalization form
 * (NFC vs NFD) is served, with the access rules applied to the name reached as well, and the
 * log names the file sent (docs/PROTOCOL.md §2.1).
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';

const nfc = (s: string): string => s.normalize('NFC');
const nfd = (s: string): string => s.normalize('NFD');
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('unicode names', () => {
  let fx: Fixture;
  let server: ServerProcess;
  let ruled: ServerProcess;
  const stored = {
    // As macOS writes them: decomposed, folder and file.
    [nfd('résumés/café.txt')]: 'stored in NFD\n',
    // As Linux tools typed on a keyboard write them: composed.
    [nfc('thé.txt')]: 'stored in NFC\n',
    // Both spellings present, different files: each name gets its own bytes.
    [nfc('ñ-both.txt')]: 'the NFC one\n',
    [nfd('ñ-both.txt')]: 'the NFD one\n',
    // Allowed by the rules below only in its NFC spelling.
    [nfd('rule/é.txt')]: 'ruled\n',
    [nfd('rule/ü.txt')]: 'allowed in both spellings\n',
  };

  before(async () => {
    fx = await makeFixture(stored);
    server = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
    const rules = join(fx.path, 'rules.yaml');
    await writeFile(
      rules,
      [
        'rules:',
        '  - cn: client',
        `    allow: ["${nfc('rule/ü.txt')}", "${nfd('rule/ü.txt')}", "${nfc('rule/é.txt')}"]`,
      ].join('\n'),
    );
    ruled = await startServer(['--pki', fx.pki.pki, '--root', fx.root, '--access', rules]);
  });
  after(async () => {
    await server.stop();
    await ruled.stop();
    await fx.remove();
  });

  async function fetch(
    s: ServerProcess,
    name: string,
    out: string,
  ): Promise<{ code: number | null; stderr: string; body?: string; log: Record<string, unknown> }> {
    const dir = join(fx.path, out);
    await mkdir(dir);
    const r = await cliGet(s.port, fx.pki.pki, name, join(dir, 'out'));
    const log = await s.waitForLog((l) => l['msg'] === 'connection' && l['request'] === name);
    const files = await readdir(dir);
    return {
      code: r.code,
      stderr: r.stderr,
      log,
      ...(files.includes('out') ? { body: await readFile(join(dir, 'out'), 'utf8') } : {}),
    };
  }

  it('the premise: the two spellings are different bytes', () => {
    assert.notEqual(
      Buffer.from(nfc('café')).toString('hex'),
      Buffer.from(nfd('café')).toString('hex'),
    );
  });

  it('an NFC name finds a file stored in NFD; the log names the file sent', async () => {
    const r = await fetch(server, nfc('résumés/café.txt'), 'nfc-to-nfd');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body, 'stored in NFD\n');
    assert.equal(r.log['outcome'], 'ok');
    assert.equal(r.log['served'], nfd('résumés/café.txt'));
    assert.equal(r.log['sha256'], sha('stored in NFD\n'));
  });

  it('an NFD name finds a file stored in NFC', async () => {
    const r = await fetch(server, nfd('thé.txt'), 'nfd-to-nfc');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body, 'stored in NFC\n');
    assert.equal(r.log['served'], nfc('thé.txt'));
  });

  it('exact bytes win when both spellings exist', async () => {
    const a = await fetch(server, nfc('ñ-both.txt'), 'both-nfc');
    const b = await fetch(server, nfd('ñ-both.txt'), 'both-nfd');
    assert.equal(a.body, 'the NFC one\n');
    assert.equal(b.body, 'the NFD one\n');
    assert.equal(a.log['served'], undefined);
    assert.equal(b.log['served'], undefined);
  });

  it('a name in neither spelling is not-found', async () => {
    const r = await fetch(server, nfc('café-absent.txt'), 'absent');
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /not-found/);
    assert.equal(r.body, undefined);
  });

  it('access rules apply to the name reached too: an NFC grant does not cover the NFD file', async () => {
    const r = await fetch(ruled, nfc('rule/é.txt'), 'ruled-nfc');
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /forbidden/);
    assert.equal(r.body, undefined);
    assert.equal(r.log['outcome'], 'forbidden');
    assert.match(String(r.log['rule']), new RegExp(`no rule matched.* via "${nfd('rule/é.txt')}"`));
  });

  it('access rules apply to the name reached too: both spellings allowed, served', async () => {
    const r = await fetch(ruled, nfc('rule/ü.txt'), 'ruled-both');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body, 'allowed in both spellings\n');
    assert.equal(r.log['served'], nfd('rule/ü.txt'));
    assert.match(String(r.log['rule']), /rules\.yaml#1/);
  });
});
