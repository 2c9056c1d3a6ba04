/**
 * The server's folder listings as the client reads them (docs/PROTOCOL.md "Listings"): `GET
 * /folder/` with `Accept: application/json`, page after page through `next`, each entry
 * checked. The server applies the access rules before anything is listed: what comes back is
 * exactly what this client identity may read. Used by `ls` and to resolve glob patterns.
 */
import { SecureStreamError } from '../errors.js';
import { checkName } from '../protocol.js';
import type { HttpConnection } from '../transport/httpclient.js';
import { refusalOf } from './httpfields.js';
import { targetOf } from '../http/target.js';
import { LISTING_FORMAT } from '../http/listview.js';

/** Largest listing page read, in bytes: 1000 entries of long names fit well below it. */
export const MAX_LISTING_PAGE = 4 * 1024 * 1024;
/** Most pages followed for one folder (1000 entries each at most). */
export const MAX_LISTING_PAGES = 100_000;

/** One entry, named by its full path under the root. */
export interface RemoteEntry {
  /** `a/b/c.txt`; a folder without its trailing slash. */
  path: string;
  type: 'file' | 'folder';
  /** Bytes; files only. */
  size?: number;
  /** ISO 8601, as the server wrote it. */
  mtime: string;
  /** SHA-256 (hex) when the server knows it already. */
  sha256?: string;
}

/**
 * The entries of `folder` (`''` for the root), in the server's order (UTF-8 byte order), page
 * by page. Throws a refusal (`forbidden`, `not-found`) as `get` reports one, or `protocol`
 * for a page that is not a listing.
 */
export async function* listFolder(
  conn: HttpConnection,
  folder: string,
  signal?: AbortSignal,
  /** The name a refusal quotes (default `FOLDER/`): `ls` quotes what the user typed. */
  asked = folder === '' ? '/' : `${folder}/`,
): AsyncGenerator<RemoteEntry> {
  let target: string | undefined = targetOf(folder, true);
  for (let page = 0; target !== undefined; page++) {
    if (page >= MAX_LISTING_PAGES) {
      throw new SecureStreamError('protocol', `the listing of "${folder}/" never ends`);
    }
    const res = await conn.get(target, { accept: 'application/json' }, signal);
    const text = await readText(res.body, MAX_LISTING_PAGE);
    if (res.status !== 200) throw refusalOf(asked, res.status, text);
    const doc = parsePage(text);
    const prefix = folder === '' ? '' : `${folder}/`;
    if (doc.folder !== prefix) {
      throw new SecureStreamError(
        'protocol',
        `asked for the listing of "${prefix}", got "${doc.folder}"`,
      );
    }
    for (const e of doc.entries) yield { ...e, path: prefix + e.path };
    if (doc.next !== undefined && !doc.next.startsWith(target.split('?')[0] ?? '/')) {
      throw new SecureStreamError('protocol', `a listing page points elsewhere: "${doc.next}"`);
    }
    target = doc.next;
  }
}

/**
 * Every entry below `folder`, depth first in listing order, descending into a folder only
 * when `descend(path)` says so.
 */
export async function* walk(
  conn: HttpConnection,
  folder: string,
  descend: (path: string) => boolean,
  signal?: AbortSignal,
): AsyncGenerator<RemoteEntry> {
  for await (const e of listFolder(conn, folder, signal)) {
    yield e;
    if (e.type === 'folder' && descend(e.path)) yield* walk(conn, e.path, descend, signal);
  }
}

interface Page {
  folder: string;
  entries: RemoteEntry[];
  next?: string;
}

function parsePage(text: string): Page {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw notListing('not JSON');
  }
  const doc = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || doc['format'] !== LISTING_FORMAT) {
    throw notListing(`format is not "${LISTING_FORMAT}"`);
  }
  if (typeof doc['folder'] !== 'string' || !Array.isArray(doc['entries'])) {
    throw notListing('no folder or entries');
  }
  const next = doc['next'];
  if (next !== undefined && (typeof next !== 'string' || !next.startsWith('/'))) {
    throw notListing('bad "next"');
  }
  return {
    folder: doc['folder'],
    entries: (doc['entries'] as unknown[]).map(entry),
    ...(next === undefined ? {} : { next }),
  };
}

function entry(v: unknown): RemoteEntry {
  const e = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const name = e['name'];
  const type = e['type'];
  if (typeof name !== 'string' || name.includes('/') || (type !== 'file' && type !== 'folder')) {
    throw notListing('an entry without a name or type');
  }
  try {
    checkName(name);
  } catch {
    throw notListing(`an entry named ${JSON.stringify(name.slice(0, 80))}`);
  }
  const size = e['size'];
  if (type === 'file' && !(Number.isSafeInteger(size) && (size as number) >= 0)) {
    throw notListing(`no size for "${name}"`);
  }
  const sha = e['sha256'];
  const mtime = typeof e['mtime'] === 'string' ? e['mtime'] : '';
  return {
    path: name,
    type,
    ...(type === 'file' ? { size: size as number } : {}),
    mtime,
    ...(typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}),
  };
}

function notListing(why: string): SecureStreamError {
  return new SecureStreamError('protocol', `the server's listing is malformed: ${why}`);
}

async function readText(body: AsyncIterable<Buffer>, cap: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of body) {
    n += b.length;
    if (n > cap) throw new SecureStreamError('protocol', `a listing page over ${cap} bytes`);
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}
