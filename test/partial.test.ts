/**
 * Kept partial downloads and their records: where they live, mode 0600, and which ones
 * `--continue` may resume from (the bytes themselves are judged by the digest, not here).
 */
import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NAME_MAX } from '../src/atomic.js';
import {
  PARTIAL_FORMAT,
  findPartial,
  partialPaths,
  removePartial,
  writeRecord,
  writeRecordSync,
  type PartialRecord,
} from '../src/fetch/partial.js';
import { tempDir } from './helpers/proc.js';

const ETAG = `"sha256-${'a'.repeat(64)}"`;

describe('partial downloads', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let n = 0;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  /** The record of 400 of 1000 bytes of data/big.bin kept for `output`. */
  const record = (output: string, patch: Partial<PartialRecord> = {}): PartialRecord => ({
    format: PARTIAL_FORMAT,
    name: 'data/big.bin',
    output: basename(output),
    etag: ETAG,
    length: 1000,
    bytes: 400,
    ...patch,
  });

  /** A fresh output path with a partial of `size` bytes and this record. */
  async function kept(size: number, patch: Partial<PartialRecord> = {}): Promise<string> {
    const output = join(dir.path, `out-${++n}.bin`);
    const paths = partialPaths(output);
    await writeFile(paths.data, Buffer.alloc(size, 7));
    await writeRecord(paths, record(output, patch));
    return output;
  }

  it('lives beside the output as .NAME.partial and .NAME.partial.json, both mode 0600', async () => {
    const output = await kept(400);
    const paths = partialPaths(output);
    assert.equal(paths.data, join(dir.path, `.${basename(output)}.partial`));
    assert.equal(paths.record, join(dir.path, `.${basename(output)}.partial.json`));
    assert.equal(statSync(paths.record).mode & 0o777, 0o600);
    const found = await findPartial(output, 'data/big.bin');
    assert.ok(found.kind === 'usable');
    assert.equal(found.record.bytes, 400);
  });

  it('a name of 255 bytes still gets names that fit NAME_MAX', () => {
    const paths = partialPaths(join(dir.path, 'é'.repeat(127) + 'x'));
    for (const p of [paths.data, paths.record]) {
      assert.ok(Buffer.byteLength(basename(p)) <= NAME_MAX, p);
    }
  });

  it('longer than recorded (writes that landed after the record): usable, cut back on resume', async () => {
    assert.equal((await findPartial(await kept(450), 'data/big.bin')).kind, 'usable');
  });

  const unusable: [string, () => Promise<string>, string, RegExp][] = [
    [
      'shorter than recorded',
      () => kept(399),
      'data/big.bin',
      /holds 399 bytes, fewer than the 400/,
    ],
    ['kept for another name', () => kept(400), 'other.bin', /belongs to "data\/big.bin"/],
    [
      'a record from elsewhere',
      () => kept(400, { format: 'x' as typeof PARTIAL_FORMAT }),
      'data/big.bin',
      /not readable/,
    ],
    [
      'more bytes than the file has',
      () => kept(400, { bytes: 1001 }),
      'data/big.bin',
      /not readable/,
    ],
  ];
  for (const [what, make, name, why] of unusable) {
    it(`${what}: not resumed, and the reason is given`, async () => {
      const found = await findPartial(await make(), name);
      assert.ok(found.kind === 'unusable');
      assert.match(found.reason, why);
    });
  }

  it('data without a record (a client killed outright): not resumed', async () => {
    const output = join(dir.path, 'bare.bin');
    await writeFile(partialPaths(output).data, 'x');
    const found = await findPartial(output, 'bare.bin');
    assert.equal(found.kind, 'unusable');
  });

  it('nothing there: none; removePartial leaves nothing behind', async () => {
    const output = await kept(400);
    writeRecordSync(partialPaths(output), record(output));
    assert.equal((await findPartial(output, 'data/big.bin')).kind, 'usable');
    await removePartial(partialPaths(output));
    assert.equal((await findPartial(output, 'data/big.bin')).kind, 'none');
    assert.ok(!(await readdir(dir.path)).some((f) => f.includes(basename(output))));
  });
});
