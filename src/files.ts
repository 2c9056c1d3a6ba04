/**
 * Confinement of requested names to the served root (PROTOCOL-v1): a name is resolved with
 * symlinks followed, must land inside the root and must be a regular file. A name that leaves
 * the root is `forbidden` whether or not its target exists, so refusals reveal nothing.
 */
import { constants, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { errnoCode } from './errors.js';
import { WireError } from './protocol.js';

export interface OpenedFile {
  handle: FileHandle;
  /** Resolved path inside the root. */
  path: string;
  stat: Stats;
}

/** Resolves the root once at start (and at reload): the served tree is what it points to. */
export async function resolveRoot(root: string): Promise<string> {
  return realpath(root);
}

function inside(rootReal: string, p: string): boolean {
  return p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

/**
 * Opens `name` (already syntax-checked by protocol.checkName) under `rootReal`. The file is
 * opened without following a final symlink and without blocking on FIFOs, and its type is
 * checked on the open descriptor, so what is sent is what was checked.
 */
export async function openInRoot(rootReal: string, name: string): Promise<OpenedFile> {
  const candidate = join(rootReal, name);
  let resolved: string;
  try {
    resolved = await realpath(candidate);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // The nearest existing ancestor decides: a missing file under a symlink that leaves the
      // root must look exactly like any other refusal outside the root.
      if (!inside(rootReal, await nearestExisting(candidate))) throw outsideRoot();
      throw new WireError('not-found', 'no such file');
    }
    if (code === 'ELOOP') throw new WireError('forbidden', 'symlink loop');
    if (code === 'EACCES') throw new WireError('forbidden', 'permission denied');
    throw e;
  }
  if (!inside(rootReal, resolved)) throw outsideRoot();
  let handle: FileHandle;
  try {
    handle = await open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new WireError('not-found', 'no such file');
    if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') {
      throw new WireError('forbidden', 'cannot open the file');
    }
    if (code === 'EISDIR') throw new WireError('forbidden', 'not a regular file');
    throw e;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new WireError('forbidden', 'not a regular file');
  }
  return { handle, path: resolved, stat };
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
