/**
 * Pure encode/decode of the securestream v1 wire protocol (docs/PROTOCOL.md). Nothing here
 * touches sockets or files, so every rule can be tested byte by byte.
 */
import { SecureStreamError } from './errors.js';

/** Longest request line, CR LF included (PROTOCOL-v1: "the whole line is at most 4096 bytes"). */
export const MAX_REQUEST_LINE = 4096;
/** Longest file name in a request, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** Longest response header line the client accepts (`OK …` or `ERR …`), LF included. */
export const MAX_RESPONSE_LINE = 4096;
/** Longest trailer line: `SHA256 ` + two 64-hex digests + separator + LF is 137 bytes. */
export const MAX_TRAILER_LINE = 256;
/** Longest message the server puts in an `ERR` line. */
export const MAX_ERROR_MESSAGE = 512;

/** Body encodings of an `OK` response (PROTOCOL-v1 §2.2): as stored, or sstream-v1 (FORMAT.md). */
export const MODES = ['plain', 'sstream-v1'] as const;
/** One of {@link MODES}. */
export type Mode = (typeof MODES)[number];

/** The codes this version sends in `ERR` lines (PROTOCOL-v1 §2.3). */
export const ERROR_CODES = [
  'bad-request',
  'not-found',
  'forbidden',
  'unsupported-key',
  'busy',
  'internal',
] as const;
/** One of {@link ERROR_CODES}. */
export type WireErrorCode = (typeof ERROR_CODES)[number];

/** True for the codes this version sends; a newer server may send others. */
export function isWireErrorCode(code: string): code is WireErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/**
 * A refusal, `ERR <wireCode> <message>` on the wire (PROTOCOL-v1 "Error codes"). The server
 * throws it to refuse a request; the client raises it when a server refused. Its error code is
 * `refused` (exit 4) whatever the wire code, so a code this client does not know, from a newer
 * server, is still a refusal.
 */
export class WireError extends SecureStreamError {
  /** As on the wire; in a refusal the client received, possibly a code it does not know. */
  readonly wireCode: string;
  /** A refusal to send. */
  constructor(wireCode: WireErrorCode, message: string, hint?: string);
  /** A refusal received: any code the grammar allows, kept as sent. */
  constructor(wireCode: string, message: string, hint: string | undefined, received: 'received');
  constructor(wireCode: string, message: string, hint?: string) {
    super('refused', message, hint);
    this.wireCode = wireCode;
  }
}

const CR = 0x0d;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses one complete request line (the bytes before LF, the LF excluded). Returns the
 * requested name, syntactically checked; confinement to the root is the server's job. The
 * line's length is the caller's to cap (`MAX_REQUEST_LINE`, enforced by RequestReader).
 * Throws WireError `bad-request` or `forbidden` (see {@link checkName}).
 */
export function parseRequestLine(line: Buffer): string {
  const body = stripCr(line);
  if (body.length < 4 || body.toString('latin1', 0, 4) !== 'GET ') {
    throw new WireError('bad-request', 'expected "GET <name>"');
  }
  const raw = body.subarray(4);
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    throw new WireError('bad-request', 'name is not valid UTF-8');
  }
  checkName(name, raw.length);
  return name;
}

/** How much of a refused name a message echoes: enough to recognise it, not a screenful. */
export const SHOWN_NAME_CHARS = 64;

/**
 * `name` quoted for a message on one line (JSON string syntax), cut after SHOWN_NAME_CHARS
 * characters (graphemes) with `…` and the length in bytes when longer.
 */
export function quotedName(name: string): string {
  const chars = Array.from(new Intl.Segmenter().segment(name), (g) => g.segment);
  if (chars.length <= SHOWN_NAME_CHARS) return JSON.stringify(name);
  const head = JSON.stringify(chars.slice(0, SHOWN_NAME_CHARS).join('')).slice(0, -1);
  return `${head}…" (${Buffer.byteLength(name)} bytes)`;
}

/**
 * Syntactic rules for a name (PROTOCOL-v1): 1..1024 UTF-8 bytes, no control characters,
 * and no backslash, leading slash, empty, "." or ".." segment. Names that try to leave the
 * root are `forbidden`; malformed ones are `bad-request`.
 */
export function checkName(name: string, byteLength = Buffer.byteLength(name)): void {
  if (byteLength === 0) throw new WireError('bad-request', 'empty name');
  if (byteLength > MAX_NAME_BYTES) {
    throw new WireError('bad-request', `name longer than ${MAX_NAME_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new WireError('bad-request', 'name contains a control character');
  }
  if (name.includes('\\')) throw new WireError('forbidden', 'name contains a backslash');
  if (name.startsWith('/')) throw new WireError('forbidden', 'name is absolute');
  for (const seg of name.split('/')) {
    if (seg === '..' || seg === '.')
      throw new WireError('forbidden', `name has a "${seg}" segment`);
    if (seg === '') throw new WireError('bad-request', 'name has an empty segment');
  }
}

/** `GET <name>\n` in UTF-8 (PROTOCOL-v1 §2.1); the name must have passed {@link checkName}. */
export function encodeRequest(name: string): Buffer {
  return Buffer.from(`GET ${name}\n`, 'utf8');
}

/** `OK <length> <mode>\n`: `length` is the body length in bytes (PROTOCOL-v1 §2.2). */
export function encodeOk(length: number, mode: Mode): Buffer {
  return Buffer.from(`OK ${length} ${mode}\n`, 'latin1');
}

/**
 * `ERR <code> <message>\n` (PROTOCOL-v1 §2.3): the message cut to MAX_ERROR_MESSAGE bytes,
 * anything outside printable ASCII replaced by `?`.
 */
export function encodeErr(code: WireErrorCode, message: string): Buffer {
  // One line, printable ASCII only: the message must not be able to forge a second line.
  const clean = message.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_ERROR_MESSAGE);
  return Buffer.from(`ERR ${code} ${clean}\n`, 'latin1');
}

/**
 * `SHA256 <body>[ <plaintext>]\n`, lower-case hex (PROTOCOL-v1 §2.2): the SHA-256 of the body
 * bytes sent, and in sstream-v1 mode the SHA-256 of the file they encrypt.
 */
export function encodeTrailer(bodySha256: string, plaintextSha256?: string): Buffer {
  return Buffer.from(
    plaintextSha256 ? `SHA256 ${bodySha256} ${plaintextSha256}\n` : `SHA256 ${bodySha256}\n`,
    'latin1',
  );
}

/** A response header line, parsed: `OK` with the body's length and mode, or `ERR`. */
export type ResponseHeader =
  | { kind: 'ok'; length: number; mode: Mode }
  /** `code` is kept as sent: a newer server may use codes this client does not know. */
  | { kind: 'err'; code: string; message: string };

/** Parses a response header line (LF excluded, CR tolerated). Strict: canonical decimals only. */
export function parseResponseHeader(line: Buffer): ResponseHeader {
  const text = stripCr(line).toString('latin1');
  let m = /^OK (0|[1-9][0-9]{0,15}) ([a-z0-9-]+)$/.exec(text);
  if (m?.[1] && m[2]) {
    const length = Number(m[1]);
    if (!Number.isSafeInteger(length)) throw protocolError(`length out of range in "${text}"`);
    if (!(MODES as readonly string[]).includes(m[2])) {
      throw protocolError(`unknown mode "${m[2]}" in the server's response`);
    }
    return { kind: 'ok', length, mode: m[2] as Mode };
  }
  m = /^ERR ([a-z0-9-]+)(?: (.*))?$/.exec(text);
  if (m?.[1]) return { kind: 'err', code: m[1], message: m[2] ?? '' };
  throw protocolError(`malformed response header "${text.slice(0, 80)}"`);
}

/** A parsed trailer: lower-case hex SHA-256 digests. */
export interface Trailer {
  bodySha256: string;
  plaintextSha256?: string;
}

/** Parses `SHA256 <hex>[ <hex>]` (LF excluded); the second digest is required in sstream-v1. */
export function parseTrailer(line: Buffer, mode: Mode): Trailer {
  const text = stripCr(line).toString('latin1');
  const m = /^SHA256 ([0-9a-f]{64})(?: ([0-9a-f]{64}))?$/.exec(text);
  if (!m?.[1]) throw protocolError(`malformed trailer "${text.slice(0, 80)}"`);
  if (mode === 'sstream-v1' && !m[2]) {
    throw protocolError('trailer lacks the plaintext digest required in sstream-v1 mode');
  }
  if (mode === 'plain' && m[2]) throw protocolError('trailer has two digests in plain mode');
  return m[2] ? { bodySha256: m[1], plaintextSha256: m[2] } : { bodySha256: m[1] };
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
}

function protocolError(message: string): SecureStreamError {
  return new SecureStreamError('protocol', message, 'the peer does not speak securestream v1');
}

/**
 * `'NAME/**'`, the pattern for the files under folder NAME, as a shell word (single quotes); a
 * name too long or with a quote in it is shown as `'FOLDER/**'`.
 */
export function folderPattern(name: string): string {
  const folder = name.replace(/\/+$/, '');
  const plain = folder !== '' && folder.length <= 64 && !folder.includes("'");
  return `'${plain ? folder : 'FOLDER'}/**'`;
}
