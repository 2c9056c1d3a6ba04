/**
 * Node's on-disk compile cache (`module.enableCompileCache`, nodejs.org/api/module.html,
 * "Module compile cache", Node.js 22.1+) for the CLI: the V8 code of our modules and their
 * dependencies is kept between runs, so a command does not compile them again at every start.
 *
 * What is in that folder runs as this program, so it must be writable by this user alone: the
 * folder is `$XDG_CACHE_HOME/securestream` (an absolute XDG_CACHE_HOME) or
 * `~/.cache/securestream`, made mode 0700 when missing (with `.cache`, never the home), and
 * used only when it is a real folder owned by the effective user, not writable by group or
 * others, below folders that only root or this user can change (a sticky folder such as /tmp counts as safe: nobody else can
 * move our entries out of it). Anything else, or any error, and the program runs without the
 * cache, silently. NODE_COMPILE_CACHE (node enables its folder itself, the user vouches for it)
 * and NODE_DISABLE_COMPILE_CACHE are left to node.
 *
 * Kept small on purpose: cli.ts loads it before anything else, and only node's built-in
 * modules are imported here.
 */
import * as nodeModule from 'node:module';
import { lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/** Group- and world-write bits. */
const SHARED_WRITE = 0o022;
const STICKY = 0o1000;
/**
 * Folders made at most: the cache folder and the one above it (`~/.cache`, $XDG_CACHE_HOME).
 * A home that does not exist (HOME=/nonexistent, as system users have) is not made.
 */
const MAX_MADE = 2;

/**
 * The folder the cache would use for this environment, or undefined when the environment
 * chooses for node (NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE) or names no home.
 */
export function compileCacheDir(
  env: NodeJS.ProcessEnv,
  home: () => string = homedir,
): string | undefined {
  if (env['NODE_DISABLE_COMPILE_CACHE'] || env['NODE_COMPILE_CACHE']) return undefined;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'securestream');
  let h: string;
  try {
    h = home();
  } catch {
    return undefined;
  }
  return h && isAbsolute(h) ? join(h, '.cache', 'securestream') : undefined;
}

/** A folder on the way to the cache that only root, `uid`, or nobody else (sticky) can change. */
function safeAncestor(st: Stats, uid: number): boolean {
  if (!st.isDirectory()) return false;
  if (st.uid !== 0 && st.uid !== uid) return false;
  return (st.mode & SHARED_WRITE) === 0 || (st.mode & STICKY) !== 0;
}

/**
 * `path` and every folder above it, up to the root, all safe for `uid`. With `links`, a
 * symbolic link on the way passes: who can replace it is up to the folder holding it, which
 * is checked next.
 */
function safeChain(path: string, uid: number, links: boolean): boolean {
  for (let p = path; ; p = dirname(p)) {
    const st = lstatSync(p);
    if (!(links && st.isSymbolicLink()) && !safeAncestor(st, uid)) return false;
    if (dirname(p) === p) return true;
  }
}

/**
 * Makes `dir` (mode 0700) when missing and returns its real path if it may hold code this
 * program runs: a folder owned by `uid`, without group or world write, whose path (as given
 * and as resolved) runs through safe folders only (see the module comment). Nothing is
 * created below an unsafe folder, nor when more than MAX_MADE folders are missing.
 * Undefined when it may not, or on any error.
 */
export function privateCacheDir(dir: string, uid: number): string | undefined {
  try {
    let existing = dir;
    for (;;) {
      try {
        lstatSync(existing);
        break;
      } catch {
        if (dirname(existing) === existing) return undefined;
        existing = dirname(existing);
      }
    }
    const rest = relative(existing, dir);
    if (rest.split(sep).length > MAX_MADE) return undefined;
    if (!safeChain(existing, uid, true)) return undefined;
    const real = realpathSync(existing);
    if (!safeChain(real, uid, false)) return undefined;
    const target = rest ? join(real, rest) : real;
    if (rest) mkdirSync(target, { recursive: true, mode: 0o700 });
    const st = lstatSync(target);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & SHARED_WRITE) !== 0) return undefined;
    return safeChain(dirname(target), uid, false) ? target : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns node's compile cache on for this process in the private folder (see the module
 * comment). Returns the folder used, or undefined when the cache stays off (or is node's
 * own, through NODE_COMPILE_CACHE). Never throws.
 */
export function startCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const uid = process.geteuid?.();
  // Node 22.0 has neither; a namespace import reads a missing export as undefined.
  const { enableCompileCache: enable, constants } = nodeModule as Partial<typeof nodeModule>;
  if (uid === undefined || typeof enable !== 'function') return undefined;
  const wanted = compileCacheDir(env);
  const dir = wanted === undefined ? undefined : privateCacheDir(wanted, uid);
  if (dir === undefined) return undefined;
  try {
    const r = enable(dir);
    const { ENABLED } = constants?.compileCacheStatus ?? { ENABLED: 1 };
    return r.status === ENABLED ? dir : undefined;
  } catch {
    return undefined;
  }
}
