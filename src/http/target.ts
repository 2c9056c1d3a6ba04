/**
 * From an HTTP request-target to a name under the root (RFC 9112 §3.2, RFC 3986 §2.1):
 * percent-decoded once, then exactly the line protocol's name rules (protocol.checkName), so
 * `/%2e%2e/x` is the same `forbidden` as `GET ../x` and `%00` the same `bad-request` as NUL.
 */
import { WireError, checkName } from '../protocol.js';
import { HttpRefusal } from './status.js';

/**
 * Longest request-target accepted: a 1024-byte name percent-encoded in full is 3072 bytes,
 * plus the leading slash and a listing query.
 */
export const MAX_TARGET_BYTES = 4096;
/** Entries a listing page may hold when the client asks for fewer (`?limit=`). */
export const MIN_LISTING_LIMIT = 1;

export type Target =
  /** A file: `/a/b.txt` → `a/b.txt`. */
  | { kind: 'file'; name: string }
  /**
   * A folder listing: `/` → `''`, `/logs/` → `logs`. `after` (a single name in the folder) and
   * `limit` come from the query and page through large folders.
   */
  | { kind: 'folder'; name: string; after?: string | undefined; limit?: number | undefined };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses origin-form (`/path?query`) or absolute-form (`https://host/path`). The query of a
 * file request is ignored; that of a folder request may carry `after` and `limit`.
 * Throws WireError `bad-request`/`forbidden` like the line protocol, or HttpRefusal 414.
 */
export function parseTarget(raw: string): Target {
  if (raw.length > MAX_TARGET_BYTES) {
    throw new HttpRefusal(414, 'uri-too-long', `request-target longer than ${MAX_TARGET_BYTES}`);
  }
  let rest = raw;
  const absolute = /^https?:\/\/[^/?#]*/i.exec(rest);
  if (absolute) rest = rest.slice(absolute[0].length) || '/';
  if (!rest.startsWith('/')) {
    throw new WireError('bad-request', 'request-target must start with "/"');
  }
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? undefined : rest.slice(q + 1);
  const decoded = percentDecode(path.slice(1));
  if (decoded === '') return folderTarget('', query);
  if (decoded.endsWith('/')) {
    const name = decoded.slice(0, -1);
    checkName(name);
    return folderTarget(name, query);
  }
  checkName(decoded);
  return { kind: 'file', name: decoded };
}

/** The request-target of a name (or of a folder with `folder`): each segment percent-encoded. */
export function targetOf(name: string, folder = false): string {
  const path = name === '' ? '' : name.split('/').map(encodeURIComponent).join('/');
  return `/${path}${folder && path !== '' ? '/' : ''}`;
}

function folderTarget(name: string, query: string | undefined): Target {
  if (query === undefined || query === '') return { kind: 'folder', name };
  const params = new URLSearchParams(query);
  const after = params.get('after') ?? undefined;
  if (after !== undefined && (after === '' || after.includes('/'))) {
    throw new WireError('bad-request', '"after" must be one name in the folder');
  }
  const limitText = params.get('limit');
  let limit: number | undefined;
  if (limitText !== null) {
    limit = /^[0-9]{1,9}$/.test(limitText) ? Number(limitText) : NaN;
    if (!Number.isInteger(limit) || limit < MIN_LISTING_LIMIT) {
      throw new WireError('bad-request', `"limit" must be a whole number of at least 1`);
    }
  }
  return { kind: 'folder', name, after, limit };
}

/**
 * Percent-decodes a path into UTF-8 text. Characters above 0xff cannot come off an HTTP/1.1
 * wire (node hands raw bytes over as latin1), and bytes that are not UTF-8 after decoding are
 * a `bad-request`, as in the line protocol.
 */
function percentDecode(text: string): string {
  const bytes = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new WireError('bad-request', 'malformed percent-encoding in the request-target');
      }
      bytes[n++] = parseInt(hex, 16);
      i += 2;
    } else if (c > 0xff) {
      throw new WireError('bad-request', 'request-target is not bytes');
    } else {
      bytes[n++] = c;
    }
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new WireError('bad-request', 'name is not valid UTF-8');
  }
}
