/**
 * Folder listings: what one client identity may read in one folder under the root, a page at a
 * time, in UTF-8 byte order of the names. Access rules decide before anything is shown:
 * a file appears only when the client may read it, a folder only when a rule could let it read
 * something below (access.ts FolderAuthorizer); names a request could not carry, symlinks that
 * leave the root and anything that is neither file nor folder are left out. Memory is bounded
 * by the page size whatever the folder holds: the folder is streamed and only the smallest
 * names past the cursor are kept.
 */
import type { Stats } from 'node:fs';
import { lstat, opendir, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Authorizer, FolderAuthorizer } from '../access.js';
import type { PeerIdentity } from '../transport/peer.js';
import { nameInRoot, resolveInRoot } from '../files.js';
import { WireError, checkName } from '../protocol.js';
import { isSecureStreamError } from '../errors.js';

/** Most entries in one listing response; `?limit=` may ask for fewer, never for more. */
export const MAX_LISTING_ENTRIES = 1000;

export interface ListingEntry {
  /** The entry's name within the folder (one segment). */
  name: string;
  type: 'file' | 'folder';
  /** Bytes; files only. */
  size?: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** SHA-256 (hex) when this version of the file has been hashed already; files only. */
  sha256?: string;
}

export interface ListingPage {
  /** The folder listed: `''` for the root, else `a/b`. */
  folder: string;
  entries: ListingEntry[];
  /** The last name of this page when more entries follow (`?after=` for the next page). */
  after?: string;
}

export interface ListingRequest {
  rootReal: string;
  folder: string;
  peer: PeerIdentity;
  authorize: Authorizer;
  folderVisible: FolderAuthorizer;
  /** Known digests of file versions (DigestCache). */
  digestOf: (st: Stats) => string | undefined;
  /** Only names after this one (byte order). */
  after?: string | undefined;
  limit?: number | undefined;
}

interface Candidate {
  name: string;
  key: Buffer;
  kind: 'file' | 'folder' | 'link';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads one page. Throws WireError: `forbidden` when the folder is not visible to this peer
 * or leaves the root (the same refusal either way), `not-found` when it does not exist inside
 * the root or is not a folder. `rule` on the result names what decided, for the log.
 */
export async function listFolder(req: ListingRequest): Promise<ListingPage & { rule: string }> {
  const verdict = req.folderVisible(req.peer, req.folder);
  if (!verdict.allowed) throw new WireError('forbidden', `folder denied by ${verdict.rule}`);
  const real = req.folder === '' ? req.rootReal : await resolveInRoot(req.rootReal, req.folder);
  const reached = nameInRoot(req.rootReal, real);
  if (reached !== req.folder && !req.folderVisible(req.peer, reached).allowed) {
    throw new WireError('forbidden', `folder denied via "${reached}"`);
  }
  if (!(await stat(real)).isDirectory()) throw new WireError('not-found', 'not a folder');
  const limit = Math.min(req.limit ?? MAX_LISTING_ENTRIES, MAX_LISTING_ENTRIES);
  const { picked, more } = await pickCandidates(real, req, limit);
  const entries: ListingEntry[] = [];
  for (const c of picked) {
    const entry = await describe(real, c, req);
    if (entry) entries.push(entry);
  }
  const last = picked[picked.length - 1];
  return {
    folder: req.folder,
    entries,
    rule: verdict.rule,
    ...(more && last ? { after: last.name } : {}),
  };
}

/** Streams the folder and keeps the `limit` smallest admissible names after the cursor. */
async function pickCandidates(
  real: string,
  req: ListingRequest,
  limit: number,
): Promise<{ picked: Candidate[]; more: boolean }> {
  const afterKey = req.after === undefined ? undefined : Buffer.from(req.after);
  const prefix = req.folder === '' ? '' : `${req.folder}/`;
  let kept: Candidate[] = [];
  let more = false;
  const trim = (): void => {
    kept.sort((a, b) => Buffer.compare(a.key, b.key));
    if (kept.length > limit) {
      more = true;
      kept = kept.slice(0, limit);
    }
  };
  const dir = await opendir(real, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 });
  for await (const d of dir) {
    const key = d.name as unknown as Buffer;
    if (afterKey && Buffer.compare(key, afterKey) <= 0) continue;
    let name: string;
    try {
      name = utf8.decode(key);
      checkName(prefix + name);
    } catch {
      continue; // no request could name it
    }
    const path = prefix + name;
    let kind: Candidate['kind'];
    if (d.isFile()) {
      if (!req.authorize(req.peer, path).allowed) continue;
      kind = 'file';
    } else if (d.isDirectory()) {
      if (!req.folderVisible(req.peer, path).allowed) continue;
      kind = 'folder';
    } else if (d.isSymbolicLink()) kind = 'link';
    else continue;
    kept.push({ name, key, kind });
    if (kept.length >= 2 * limit) trim();
  }
  trim();
  return { picked: kept, more };
}

/** Stats one picked name; a symlink counts as what it reaches, if that is inside the root. */
async function describe(
  real: string,
  c: Candidate,
  req: ListingRequest,
): Promise<ListingEntry | undefined> {
  const path = req.folder === '' ? c.name : `${req.folder}/${c.name}`;
  let st: Stats;
  try {
    if (c.kind === 'link') {
      const target = await resolveInRoot(req.rootReal, path);
      st = await stat(target);
      const reached = nameInRoot(req.rootReal, target);
      const see = (p: string): boolean =>
        st.isFile() ? req.authorize(req.peer, p).allowed : req.folderVisible(req.peer, p).allowed;
      if (!see(path) || !see(reached)) return undefined;
    } else {
      // lstat: a name swapped for a symlink since the folder was read is dropped, not followed.
      st = await lstat(`${real}${sep}${c.name}`);
    }
  } catch (e) {
    if (isSecureStreamError(e) || errno(e)) return undefined; // gone, or leaves the root
    throw e;
  }
  if (st.isFile()) {
    const sha256 = req.digestOf(st);
    return {
      name: c.name,
      type: 'file',
      size: st.size,
      mtimeMs: st.mtimeMs,
      ...(sha256 === undefined ? {} : { sha256 }),
    };
  }
  if (st.isDirectory()) return { name: c.name, type: 'folder', mtimeMs: st.mtimeMs };
  return undefined;
}

function errno(e: unknown): boolean {
  return typeof e === 'object' && e !== null && 'code' in e;
}
