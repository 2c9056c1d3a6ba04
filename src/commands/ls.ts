/**
 * `securestream ls [PREFIX] [--long] [--json]`: what this client identity may read under the
 * server's root, as the server's listing shows it (access rules applied there: a file the
 * rules deny is not listed, and a folder only when something below it may be read). PREFIX is
 * a folder (default: the root), a file, or a pattern as `get` takes it.
 */
import type { LsOptions } from '../config.js';
import { SecureStreamError } from '../errors.js';
import { listFolder, type RemoteEntry } from '../fetch/listing.js';
import { isPattern, patternMatches } from '../fetch/names.js';
import { Remote } from '../fetch/remote.js';
import { loadTlsMaterial } from '../pki/load.js';
import { WireError } from '../protocol.js';
import { escapeControls, jsonForTerminal } from '../terminaltext.js';
import type { HttpConnection } from '../transport/httpclient.js';
import { refused } from '../transport/client.js';

/** Lists and prints, line by line, as pages arrive. Returns the number of entries printed. */
export async function runLs(opts: LsOptions, print: (text: string) => void): Promise<number> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'client' });
  const remote = await Remote.open({
    host: opts.host,
    port: opts.port,
    pem: material,
    protocol: 'http',
    waitForServer: opts.waitForServer,
    signal: opts.signal,
  });
  const out = printer(opts.format, print, opts.terminal ?? false);
  try {
    const conn = remote.http(0);
    for await (const e of entries(conn, opts.prefix, opts.signal)) out.entry(e);
  } finally {
    await remote.close();
  }
  return out.end();
}

/** The entries PREFIX stands for: a pattern's matches, a folder's entries, or one file. */
async function* entries(
  conn: HttpConnection,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<RemoteEntry> {
  if (isPattern(prefix)) {
    yield* patternMatches(conn, prefix, signal);
    return;
  }
  try {
    yield* listFolder(conn, prefix, signal, prefix === '' ? '/' : prefix);
  } catch (e) {
    // Not a folder: perhaps a file, shown as its folder's listing shows it.
    if (prefix === '' || !(e instanceof WireError) || e.wireCode !== 'not-found') throw e;
    const slash = prefix.lastIndexOf('/');
    const parent = slash < 0 ? '' : prefix.slice(0, slash);
    for await (const f of listFolder(conn, parent, signal)) {
      if (f.path === prefix && f.type === 'file') {
        yield f;
        return;
      }
    }
    // Neither a folder nor a file: said of PREFIX as typed, not of the folder "PREFIX/".
    throw refused(prefix, 'not-found', 'no such file or folder');
  }
}

interface Printer {
  entry(e: RemoteEntry): void;
  /** Finishes the output; returns the number of entries. */
  end(): number;
}

/** Width of the size column of `--long`: a petabyte in bytes still fits. */
const SIZE_WIDTH = 16;

/**
 * How each format prints entries. Names passed the name rules (no C0 control, DEL or
 * backslash) but may hold C1 or bidirectional controls, and the time is the server's text:
 * `--long` is for people and escapes both (src/terminaltext.ts); names alone are escaped on a
 * terminal and exact in a pipe; JSON stays exact JSON with those characters as \u escapes.
 */
function printer(
  format: LsOptions['format'],
  print: (text: string) => void,
  terminal: boolean,
): Printer {
  let n = 0;
  const path = (e: RemoteEntry): string => (e.type === 'folder' ? `${e.path}/` : e.path);
  switch (format) {
    case 'names':
      return {
        entry: (e) => {
          n++;
          print(`${terminal ? escapeControls(path(e)) : path(e)}\n`);
        },
        end: () => n,
      };
    case 'long':
      return {
        entry: (e) => {
          n++;
          const size = e.type === 'file' ? String(e.size ?? 0) : '-';
          print(
            `${e.type === 'folder' ? 'd' : '-'} ${size.padStart(SIZE_WIDTH)}  ${escapeControls(e.mtime)}  ${e.sha256 ?? '-'.padEnd(64)}  ${escapeControls(path(e))}\n`,
          );
        },
        end: () => n,
      };
    case 'json':
      // One JSON array, written as it grows: valid JSON at the end, memory bounded meanwhile.
      return {
        entry: (e) => {
          const json = {
            name: e.path,
            type: e.type,
            ...(e.size === undefined ? {} : { size: e.size }),
            mtime: e.mtime,
            ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
          };
          print(`${n++ === 0 ? '[\n' : ',\n'}${jsonForTerminal(json)}`);
        },
        end: () => {
          print(n === 0 ? '[]\n' : '\n]\n');
          return n;
        },
      };
    default:
      throw new SecureStreamError('usage', `unknown format ${String(format)}`);
  }
}
