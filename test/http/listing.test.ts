import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALLOW_ALL, SHOW_ALL_FOLDERS, parseAccessRules } from '../../src/access.js';
import { resolveRoot } from '../../src/files.js';
import { listFolder, type ListingRequest } from '../../src/http/listing.js';
import { listingHtml, listingJson, wantsJson } from '../../src/http/listview.js';
import { DigestCache } from '../../src/transport/digestcache.js';
import { WireError } from '../../src/protocol.js';
import type { PeerIdentity } from '../../src/transport/peer.js';
import { tempDir } from '../helpers/proc.js';

const peer = (cn: string): PeerIdentity => ({
  subject: `CN=${cn}`,
  commonName: cn,
  fingerprint256: 'ab'.repeat(32),
  dnsNames: [],
  emails: [],
  uris: [],
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WireError) return e.wireCode;
    throw e;
  }
  return 'listed';
}

describe('folder listings', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let root: string;
  const digests = new DigestCache();
  const base = (): Omit<ListingRequest, 'folder'> => ({
    rootReal: root,
    peer: peer('alice'),
    authorize: ALLOW_ALL,
    folderVisible: SHOW_ALL_FOLDERS,
    digestOf: (st) => digests.get(st),
  });

  before(async () => {
    dir = await tempDir();
    const r = join(dir.path, 'root');
    await mkdir(join(r, 'logs', '2026'), { recursive: true });
    await mkdir(join(r, 'private'));
    await mkdir(join(r, 'many'));
    await writeFile(join(r, 'b.txt'), 'bee');
    await writeFile(join(r, 'a.txt'), 'a');
    await writeFile(join(r, '.env'), 'secret');
    await writeFile(join(r, 'private', 'k.key'), 'k');
    await writeFile(join(r, 'logs', '2026', 'x.gz'), 'x');
    await writeFile(join(dir.path, 'outside.txt'), 'outside');
    await symlink('a.txt', join(r, 'link-in'));
    await symlink('../outside.txt', join(r, 'link-out'));
    await symlink('nowhere', join(r, 'dangling'));
    await symlink('logs', join(r, 'logs-link'));
    execFileSync('mkfifo', [join(r, 'fifo')]);
    // A name no request can carry: invalid UTF-8 and a control character.
    await writeFile(Buffer.concat([Buffer.from(`${r}/bad-`), Buffer.from([0xff])]), '');
    await writeFile(join(r, 'ctl\x01name'), '');
    for (let i = 0; i < 25; i++)
      await writeFile(join(r, 'many', `f${String(i).padStart(2, '0')}`), '');
    await utimes(join(r, 'a.txt'), new Date(Date.UTC(2026, 0, 2)), new Date(Date.UTC(2026, 0, 2)));
    root = await resolveRoot(r);
  });
  after(async () => {
    await dir.remove();
  });

  it('lists files and folders in byte order, leaving out what no request can read', async () => {
    const page = await listFolder({ ...base(), folder: '' });
    assert.deepEqual(
      page.entries.map((e) => `${e.name}:${e.type}`),
      [
        '.env:file',
        'a.txt:file',
        'b.txt:file',
        'link-in:file',
        'logs:folder',
        'logs-link:folder',
        'many:folder',
        'private:folder',
      ],
    );
    const a = page.entries.find((e) => e.name === 'a.txt');
    assert.deepEqual(a, { name: 'a.txt', type: 'file', size: 1, mtimeMs: Date.UTC(2026, 0, 2) });
    assert.equal(page.after, undefined);
  });

  it('gives the digest once this version of the file has been hashed', async () => {
    const st = await stat(join(root, 'b.txt'));
    digests.set(st, 'cd'.repeat(32));
    const page = await listFolder({ ...base(), folder: '' });
    assert.equal(page.entries.find((e) => e.name === 'b.txt')?.sha256, 'cd'.repeat(32));
    assert.equal(page.entries.find((e) => e.name === 'a.txt')?.sha256, undefined);
  });

  it('pages through a folder with a cursor, never more than the limit', async () => {
    const names: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await listFolder({ ...base(), folder: 'many', limit: 7, after });
      assert.ok(page.entries.length <= 7);
      names.push(...page.entries.map((e) => e.name));
      after = page.after;
      pages++;
    } while (after !== undefined);
    assert.equal(pages, 4);
    assert.deepEqual(
      names,
      Array.from({ length: 25 }, (_, i) => `f${String(i).padStart(2, '0')}`),
    );
    const capped = await listFolder({ ...base(), folder: 'many', limit: 10 ** 6 });
    assert.equal(capped.entries.length, 25);
  });

  it('applies the access rules to every entry and to the folder itself', async () => {
    const rules = parseAccessRules(
      ['rules:', '  - cn: alice', '    allow: ["a.txt", "logs/**/*.gz", "link-in"]'].join('\n'),
      'rules.yaml',
    );
    const req = { ...base(), authorize: rules.authorize, folderVisible: rules.folderVisible };
    const top = await listFolder({ ...req, folder: '' });
    // link-in is allowed by name but reaches a.txt, which is allowed too; logs-link reaches logs.
    assert.deepEqual(
      top.entries.map((e) => e.name),
      ['a.txt', 'link-in', 'logs'],
    );
    const logs = await listFolder({ ...req, folder: 'logs' });
    assert.deepEqual(
      logs.entries.map((e) => e.name),
      ['2026'],
    );
    assert.equal(await refusal(listFolder({ ...req, folder: 'private' })), 'forbidden');
    assert.equal(await refusal(listFolder({ ...req, folder: 'nothere' })), 'forbidden');
  });

  it('refuses folders outside the root like any refusal, and 404s only inside', async () => {
    await symlink('..', join(root, 'up'));
    try {
      assert.equal(await refusal(listFolder({ ...base(), folder: 'up' })), 'forbidden');
      assert.equal(await refusal(listFolder({ ...base(), folder: 'nothere' })), 'not-found');
      assert.equal(await refusal(listFolder({ ...base(), folder: 'a.txt' })), 'not-found');
    } finally {
      await unlink(join(root, 'up'));
    }
  });

  it('renders the documented JSON and an escaped HTML page', () => {
    const page = {
      folder: 'logs',
      entries: [
        { name: 'a <b>.gz', type: 'file' as const, size: 3, mtimeMs: 0, sha256: 'ef'.repeat(32) },
        { name: '2026', type: 'folder' as const, mtimeMs: 1000 },
      ],
      after: 'a <b>.gz',
    };
    assert.deepEqual(JSON.parse(listingJson(page)), {
      format: 'securestream-listing/1',
      folder: 'logs/',
      entries: [
        {
          name: 'a <b>.gz',
          type: 'file',
          size: 3,
          mtime: '1970-01-01T00:00:00.000Z',
          sha256: 'ef'.repeat(32),
        },
        { name: '2026', type: 'folder', mtime: '1970-01-01T00:00:01.000Z' },
      ],
      next: '/logs/?after=a%20%3Cb%3E.gz',
    });
    const html = listingHtml(page);
    assert.ok(html.includes('<a href="/logs/a%20%3Cb%3E.gz">a &#60;b&#62;.gz</a>'), html);
    assert.ok(html.includes('<a href="/logs/2026/">2026/</a>'), html);
    assert.ok(html.includes('<a href="/">../</a>'), html);
    assert.ok(!html.includes('<b>'));
  });

  it('picks JSON only when the client asks for it', () => {
    assert.equal(wantsJson('application/json'), true);
    assert.equal(wantsJson('application/json, text/html;q=0.5'), true);
    assert.equal(
      wantsJson('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'),
      false,
    );
    assert.equal(wantsJson('*/*'), false);
    assert.equal(wantsJson(undefined), false);
    assert.equal(wantsJson('application/json;q=0'), false);
  });
});
