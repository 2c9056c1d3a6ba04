/**
 * Confinement of requested names to the served root (PROTOCOL-v1): a name is resolved with
 * symlinks followed, must land inside the root and must be a regular file. A name that leaves
 * the root is `forbidden` whether or not its target exists, so refusals reveal nothing.
 */
import { constants, fstatSync, openSync, realpathSync, type Stats } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { errnoCode } from './errors.js';
import { WireError } from './protocol.js';
import { ServedFile } from './servedfile.js';

export interface OpenedFile {
  handle: ServedFile;
  /** Resolved path inside the root. */
  path: string;
  stat: Stats;
}

/** Resolves the root once at start (and at reload): the served tree is what it points to. */
export async function resolveRoot(root: string): Promise<string> {
  return realpath(root);
}

/** True when the real path `p` is `rootReal` or lies under it. */
export function inside(rootReal: string, p: string): boolean {
  return p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

/**
 * The name, `/`-separated and relative to `rootReal`, of `real`, a path resolved inside it: the
 * file a name reached, which access rules must allow too when it differs from the name asked.
 */
export function nameInRoot(rootReal: string, real: string): string {
  return relative(rootReal, real).split(sep).join('/');
}

/**
 * Opens `name` (already syntax-checked by protocol.checkName) under `rootReal`. The file is
 * opened without following a final symlink and without blocking on FIFOs, and its type is
 * checked on the open descriptor, so what is sent is what was checked.
 *
 * The resolution, the open and the stat are blocking calls, as nginx makes them: through the
 * thread pool they cost 10 times their own time per request (docs/PERFORMANCE.md, "HTTP on
 * the same port"), and on a local file system they take microseconds. On slow storage (a
 * network file system) they stall the worker's other connections for as long as they take
 * (docs/SECURITY.md, "Blocking file calls").
 *
 * Names match byte for byte. Only when nothing inside the root has the name's bytes is the
 * name tried in the other Unicode normalization forms (NFC, NFD), so that a name typed on one
 * system finds a file named on another (macOS writes NFD); `path` then says which file was
 * reached, and the caller applies its access rules to that name too.
 */
export async function openInRoot(rootReal: string, name: string): Promise<OpenedFile> {
  try {
    return await openExact(rootReal, name);
  } catch (e) {
    if (!(e instanceof WireError && e.wireCode === 'not-found')) throw e;
    for (const form of otherForms(name)) {
      try {
        return await openExact(rootReal, form);
      } catch (other) {
        if (!(other instanceof WireError && other.wireCode === 'not-found')) throw other;
      }
    }
    throw e;
  }
}

/** The NFC and NFD spellings of `name` that differ from it (none for plain ASCII). */
export function otherForms(name: string): string[] {
  const forms = [name.normalize('NFC'), name.normalize('NFD')].filter((f) => f !== name);
  return [...new Set(forms)];
}

async function openExact(rootReal: string, name: string): Promise<OpenedFile> {
  const resolved = await resolveInRoot(rootReal, name);
  let handle: ServedFile;
  try {
    handle = new ServedFile(
      openSync(resolved, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK),
    );
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new WireError('not-found', 'no such file');
    if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') {
      throw new WireError('forbidden', 'cannot open the file');
    }
    if (code === 'EISDIR') throw new WireError('forbidden', 'not a regular file');
    throw e;
  }
  let stat: Stats;
  try {
    stat = fstatSync(handle.fd);
  } catch (e) {
    await handle.close();
    throw e;
  }
  if (!stat.isFile()) {
    await handle.close();
    throw new WireError('forbidden', 'not a regular file');
  }
  return { handle, path: resolved, stat };
}

/**
 * The real path of `name` (already syntax-checked) under `rootReal`, symlinks followed; a path
 * that leaves the root is `forbidden` and one that does not exist inside it `not-found`,
 * decided so that a refusal outside the root reveals nothing (see missingVerdict).
 */
export async function resolveInRoot(rootReal: string, name: string): Promise<string> {
  let resolved: string;
  try {
    // The same realpath(3) as fs.promises.realpath, without the thread pool.
    resolved = realpathSync.native(join(rootReal, name));
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw await missingVerdict(rootReal, name);
    }
    if (code === 'ELOOP') throw new WireError('forbidden', 'symlink loop');
    if (code === 'EACCES') throw new WireError('forbidden', 'permission denied');
    throw e;
  }
  if (!inside(rootReal, resolved)) throw outsideRoot();
  return resolved;
}

/**
 * Why a name did not resolve. A missing file reached through a symlink that leaves the root
 * (or a dangling symlink pointing outside) must look exactly like any other refusal outside
 * the root, so the walk follows the name component by component.
 */
async function missingVerdict(rootReal: string, name: string): Promise<WireError> {
  const notFound = new WireError('not-found', 'no such file');
  let cur = rootReal;
  for (const seg of name.split('/')) {
    const p = join(cur, seg);
    let isLink: boolean;
    try {
      isLink = (await lstat(p)).isSymbolicLink();
    } catch {
      return notFound; // nothing further down exists, and we are still inside the root
    }
    if (!isLink) {
      cur = p;
      continue;
    }
    try {
      cur = await realpath(p);
    } catch {
      const target = resolve(dirname(p), await readlink(p));
      return inside(rootReal, await nearestExisting(target)) ? notFound : outsideRoot();
    }
    if (!inside(rootReal, cur)) return outsideRoot();
  }
  return notFound;
}

async function nearestExisting(p: string): Promise<string> {
  for (let cur = dirname(p); ; cur = dirname(cur)) {
    try {
      return await realpath(cur);
    } catch {
      if (dirname(cur) === cur) return cur;
    }
  }
}

function outsideRoot(): WireError {
  return new WireError('forbidden', 'outside the served root');
}
