/**
 * Partial downloads kept for `get --continue` (docs/PROTOCOL.md "Resuming"): the bytes so far
 * in `.NAME.partial` beside the output, and what is needed to check them in
 * `.NAME.partial.json`: the name asked for, the file's entity tag (the version the bytes
 * belong to), its length and how many bytes were on disk when the partial was kept. Both files
 * are mode 0600 like every temporary file. The record only says where to resume; the bytes are
 * trusted for nothing: the resumed file is committed only when the SHA-256 of all of it, the
 * kept bytes re-read from disk included, equals the server's digest.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NAME_MAX, TEMP_MODE, truncateUtf8 } from '../atomic.js';
import { errnoCode } from '../errors.js';

/** The `format` member of every record; another value is not ours to read. */
export const PARTIAL_FORMAT = 'securestream-partial/1';
/** Longest record read; a real one is under 1 KiB plus the name. */
export const MAX_RECORD_BYTES = 8192;

const DATA_SUFFIX = '.partial';
const RECORD_SUFFIX = '.partial.json';

/** What `.NAME.partial.json` holds. */
export interface PartialRecord {
  format: typeof PARTIAL_FORMAT;
  /** The name asked of the server. */
  name: string;
  /** The output file's own name (the partial's name may be shortened to fit NAME_MAX). */
  output: string;
  /** The strong entity tag of the version the bytes belong to (RFC 9110 §8.8.3). */
  etag: string;
  /** The whole file's length in bytes. */
  length: number;
  /** Bytes of the file on disk at offset 0 when the partial was kept. */
  bytes: number;
}

/** The two paths beside an output path. */
export interface PartialPaths {
  data: string;
  record: string;
}

export function partialPaths(output: string): PartialPaths {
  const name = truncateUtf8(basename(output), NAME_MAX - 1 - RECORD_SUFFIX.length);
  const dir = dirname(output);
  return {
    data: join(dir, `.${name}${DATA_SUFFIX}`),
    record: join(dir, `.${name}${RECORD_SUFFIX}`),
  };
}

/** A kept partial that may be resumed, or why not. */
export type FoundPartial =
  | { kind: 'none' }
  | { kind: 'usable'; record: PartialRecord; paths: PartialPaths }
  /** Something is there but cannot be trusted to resume from: start over (and say why). */
  | { kind: 'unusable'; reason: string; paths: PartialPaths };

/**
 * Looks for the partial of `output`, kept while fetching `name`. Usable when the record is
 * ours, names the same request, and the data file holds at least the recorded bytes (a
 * longer file is cut back to them on resume: writes in flight may have landed after the
 * record).
 */
export async function findPartial(output: string, name: string): Promise<FoundPartial> {
  const paths = partialPaths(output);
  const [text, size] = await Promise.all([
    readFile(paths.record, 'utf8').catch((e: unknown) =>
      errnoCode(e) === 'ENOENT' ? undefined : '',
    ),
    stat(paths.data).then(
      (s) => (s.isFile() ? s.size : -1),
      () => undefined,
    ),
  ]);
  if (text === undefined && size === undefined) return { kind: 'none' };
  if (text === undefined) return { kind: 'unusable', reason: 'it has no record', paths };
  if (size === undefined || size < 0)
    return { kind: 'unusable', reason: 'its data file is missing', paths };
  const record = parseRecord(text);
  if (!record) return { kind: 'unusable', reason: 'its record is not readable', paths };
  if (record.output !== basename(output) || record.name !== name) {
    return { kind: 'unusable', reason: `it belongs to "${record.name}"`, paths };
  }
  if (size < record.bytes) {
    return {
      kind: 'unusable',
      reason: `it holds ${size} bytes, fewer than the ${record.bytes} recorded`,
      paths,
    };
  }
  return { kind: 'usable', record, paths };
}

function parseRecord(text: string): PartialRecord | undefined {
  if (text.length > MAX_RECORD_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (
    r['format'] !== PARTIAL_FORMAT ||
    typeof r['name'] !== 'string' ||
    typeof r['output'] !== 'string' ||
    typeof r['etag'] !== 'string' ||
    !count(r['length']) ||
    !count(r['bytes']) ||
    r['bytes'] > r['length']
  ) {
    return undefined;
  }
  return r as unknown as PartialRecord;
}

function recordText(r: PartialRecord): string {
  return `${JSON.stringify(r)}\n`;
}

/** Writes the record (mode 0600) through a temporary name, so a reader sees all or nothing. */
export async function writeRecord(paths: PartialPaths, r: PartialRecord): Promise<void> {
  const tmp = `${paths.record}.tmp`;
  await writeFile(tmp, recordText(r), { mode: TEMP_MODE, flush: true });
  await rename(tmp, paths.record);
}

/** The same, synchronously: the signal path, where nothing asynchronous may be awaited. */
export function writeRecordSync(paths: PartialPaths, r: PartialRecord): void {
  const fd = openSync(paths.record, 'w', TEMP_MODE);
  try {
    writeSync(fd, recordText(r));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes the record alone: a resumed partial is no longer what it described. */
export async function removeRecord(paths: PartialPaths): Promise<void> {
  await unlink(paths.record).catch(() => undefined);
}

/** Removes a partial and its record, whichever exist. */
export async function removePartial(paths: PartialPaths): Promise<void> {
  await Promise.all([
    unlink(paths.data).catch(() => undefined),
    unlink(paths.record).catch(() => undefined),
    unlink(`${paths.record}.tmp`).catch(() => undefined),
  ]);
}
