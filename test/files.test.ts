import { strict as assert } from 'node:assert';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openInRoot, otherForms } from '../src/files.js';
import { tempDir } from './helpers/proc.js';

const nfc = (s: string): string => s.normalize('NFC');
const nfd = (s: string): string => s.normalize('NFD');

describe('openInRoot and Unicode normalization', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let root: string;
  let outside: string;

  before(async () => {
    dir = await tempDir();
    root = join(dir.path, 'root');
    outside = join(dir.path, 'outside');
    await mkdir(join(root, nfd('dossier-é')), { recursive: true });
    await mkdir(outside);
    await writeFile(join(root, nfd('dossier-é'), nfd('pâte.txt')), 'nfd');
    await writeFile(join(root, nfc('crème.txt')), 'nfc');
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await symlink(join(outside, 'secret.txt'), join(root, nfd('lien-é')));
    root = await realpath(root);
  });
  after(async () => {
    await dir.remove();
  });

  const read = async (name: string): Promise<{ text: string; path: string }> => {
    const f = await openInRoot(root, name);
    try {
      const buf = Buffer.alloc(f.stat.size);
      assert.equal(f.handle.readSync(buf, 0, buf.length, 0), f.stat.size);
      return { text: buf.toString(), path: f.path };
    } finally {
      await f.handle.close();
    }
  };

  it('otherForms lists only spellings that differ', () => {
    assert.deepEqual(otherForms('plain/ascii.txt'), []);
    assert.deepEqual(otherForms(nfc('é/ü')), [nfd('é/ü')]);
    assert.deepEqual(otherForms(nfd('é/ü')), [nfc('é/ü')]);
  });

  it('the exact bytes open as they are', async () => {
    const r = await read(nfc('crème.txt'));
    assert.equal(r.text, 'nfc');
    assert.equal(r.path, join(root, nfc('crème.txt')));
  });

  it('a composed name reaches a decomposed file, folder included; path names the file', async () => {
    const r = await read(nfc('dossier-é/pâte.txt'));
    assert.equal(r.text, 'nfd');
    assert.equal(r.path, join(root, nfd('dossier-é'), nfd('pâte.txt')));
  });

  it('a decomposed name reaches a composed file', async () => {
    assert.equal((await read(nfd('crème.txt'))).text, 'nfc');
  });

  it('the other spelling gets confinement too: a symlink out of the root is forbidden', async () => {
    await assert.rejects(openInRoot(root, nfc('lien-é')), { wireCode: 'forbidden' });
  });

  it('absent in both spellings: not-found', async () => {
    await assert.rejects(openInRoot(root, nfc('absent-é.txt')), { wireCode: 'not-found' });
  });
});
