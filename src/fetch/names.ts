/**
 * What `get` is asked for: names from the command line and from `--from FILE` (one per line,
 * `-` for standard input), and glob patterns (`logs/**\/*.gz`) resolved against the server's
 * listing, so a pattern matches exactly the files this client may read. Patterns follow
 * picomatch's rules as the shell's globstar does: `*` and `?` stay within one folder, `**`
 * crosses folders, names starting with a dot are matched only by a pattern segment that does.
 */
import { readFile } from 'node:fs/promises';
import picomatch from 'picomatch';
import { SecureStreamError, UsageError, errnoCode } from '../errors.js';
import { WireError, checkName, quotedName } from '../protocol.js';
import type { HttpConnection } from '../transport/httpclient.js';
import { walk, type RemoteEntry } from './listing.js';

/** Longest `--from` file read, in bytes (a million names of 64 bytes). */
export const MAX_NAME_LIST_BYTES = 64 * 1024 * 1024;

/** One thing asked for, and where below the output folder it goes. */
export interface Wanted {
  /** The name asked of the server. */
  name: string;
  /** The output path below the output folder (the basename, or what a pattern matched). */
  rel: string;
  /** The file's size from the listing, when a pattern found it. */
  size?: number;
}

const GLOB_OPTS = { dot: false, nonegate: true, noextglob: true, windows: false } as const;

/** Whether `name` is a pattern rather than a plain name. */
export function isPattern(name: string): boolean {
  return picomatch.scan(name, GLOB_OPTS).isGlob;
}

/**
 * The lines of `--from FILE` (`-`: standard input): one name per line, CR LF accepted, blank
 * lines skipped. Each name must pass the server's rules: a bad one is a usage error naming its
 * line.
 */
export async function readNameList(from: string, stdin: () => Promise<Buffer>): Promise<string[]> {
  let bytes: Buffer;
  try {
    bytes = from === '-' ? await stdin() : await readFile(from);
  } catch (e) {
    throw nameListError(from, e);
  }
  if (bytes.length > MAX_NAME_LIST_BYTES) {
    throw new UsageError(`name list "${from}" is over ${MAX_NAME_LIST_BYTES} bytes`);
  }
  const names: string[] = [];
  bytes
    .toString('utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') return;
      try {
        checkName(line);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        throw new UsageError(
          `${from === '-' ? 'standard input' : `"${from}"`} line ${i + 1}: invalid name ${quotedName(line)}: ${e.message}`,
        );
      }
      names.push(line);
    });
  return names;
}

/**
 * The entries (files and folders) matching `pattern`, found by walking the server's listing
 * from the pattern's literal base folder, descending only as deep as the pattern can reach.
 */
export async function* patternMatches(
  conn: HttpConnection,
  pattern: string,
  signal?: AbortSignal,
): AsyncGenerator<RemoteEntry> {
  const { base, glob } = picomatch.scan(pattern, GLOB_OPTS);
  const isMatch = picomatch(pattern, GLOB_OPTS);
  const baseSegs = base === '' ? 0 : base.split('/').length;
  // Without `**`, a pattern of k segments below its base reaches k levels down, no deeper.
  const reach = glob.includes('**') ? Infinity : glob.split('/').length;
  const descend = (path: string): boolean => path.split('/').length - baseSegs < reach;
  for await (const e of walk(conn, base, descend, signal)) if (isMatch(e.path)) yield e;
}

/**
 * The files matching `pattern`, each to go below the output folder at its path relative to
 * the pattern's literal base folder. No match is a `not-found` refusal.
 */
export async function expandPattern(
  conn: HttpConnection,
  pattern: string,
  signal?: AbortSignal,
): Promise<Wanted[]> {
  const { base } = picomatch.scan(pattern, GLOB_OPTS);
  const found: Wanted[] = [];
  for await (const e of patternMatches(conn, pattern, signal)) {
    if (e.type !== 'file') continue;
    found.push({
      name: e.path,
      rel: base === '' ? e.path : e.path.slice(base.length + 1),
      ...(e.size === undefined ? {} : { size: e.size }),
    });
  }
  if (found.length === 0) {
    throw new WireError(
      'not-found',
      `no file the server lets us read matches "${pattern}"`,
      'check the pattern; "securestream ls" shows what there is',
      'received',
    );
  }
  return found;
}

const NAME_LIST_HINT = '--from takes a file of names, one per line, or "-" for standard input';

/** `--from FILE` that cannot be read: `input-not-found` or `input-unreadable`, with a hint. */
function nameListError(from: string, e: unknown): SecureStreamError {
  const code = errnoCode(e);
  if (code === 'ENOENT') {
    return new SecureStreamError(
      'input-not-found',
      `name list "${from}" does not exist`,
      NAME_LIST_HINT,
      { cause: e },
    );
  }
  const why =
    code === 'EISDIR'
      ? 'it is a folder'
      : code === 'EACCES'
        ? 'permission denied'
        : e instanceof Error
          ? e.message
          : String(e);
  return new SecureStreamError(
    'input-unreadable',
    `cannot read the name list "${from}": ${why}`,
    NAME_LIST_HINT,
    { cause: e },
  );
}
