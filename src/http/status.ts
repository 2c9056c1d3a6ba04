/**
 * How refusals become HTTP responses. The line protocol's codes keep their rules (PROTOCOL.md
 * §2.3): every `forbidden` has one body whatever the reason, `not-found` exists only inside the
 * root, and a message never says more than its code.
 */
import { WireError, isWireErrorCode, type WireErrorCode } from '../protocol.js';

/** Refusals only HTTP has; each is a log outcome and the first word of its response body. */
export type HttpRefusalCode =
  | 'method-not-allowed'
  | 'header-too-large'
  | 'uri-too-long'
  | 'range-not-satisfiable'
  | 'precondition-failed'
  | 'file-changed';

/**
 * How one HTTP request ended (the request log's `outcome`, a metrics label): a fixed set.
 * `moved` is the redirect of a folder asked for without its slash.
 */
export type HttpOutcome =
  'ok' | 'moved' | WireErrorCode | HttpRefusalCode | 'bad-request' | 'client-gone' | 'internal';

/**
 * A refusal that exists only in HTTP (method, range, preconditions, caps). A server-side
 * answer, never raised to a user, so not a SecureStreamError: `code` is the log's outcome.
 */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    /** Log outcome and the body's first word, e.g. `method-not-allowed`. */
    readonly code: HttpRefusalCode,
    message: string,
    /** Extra response fields (e.g. `Allow`, `Content-Range`). */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Seconds a client is asked to wait after a 503 (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 5;

const STATUS_OF: Record<WireErrorCode, number> = {
  'bad-request': 400,
  forbidden: 403,
  'not-found': 404,
  // The client's certificate key cannot receive sstream-v1; it is refused whatever it asks for.
  'unsupported-key': 403,
  busy: 503,
  internal: 500,
};

/** The body of every 403 for a refused or outside-the-root name: nothing leaks by wording. */
export const FORBIDDEN_BODY = 'forbidden: access denied\n';

export interface ErrorResponse {
  status: number;
  /** Plain text, one line, ending in LF. */
  body: string;
  fields: Record<string, string>;
}

/**
 * The response for a refusal. The body is fixed per code (`forbidden: access denied`,
 * `not-found: no such file`); only `bad-request` and `unsupported-key` say what was wrong,
 * since those messages depend on what the client sent or holds, not on the files.
 */
export function errorResponse(e: WireError | HttpRefusal): ErrorResponse {
  if (e instanceof HttpRefusal) {
    return { status: e.status, body: `${e.code}: ${e.message}\n`, fields: e.fields };
  }
  const code: WireErrorCode = isWireErrorCode(e.wireCode) ? e.wireCode : 'internal';
  const status = STATUS_OF[code];
  const fields: Record<string, string> =
    code === 'busy' ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  switch (code) {
    case 'forbidden':
      return { status, body: FORBIDDEN_BODY, fields };
    case 'not-found':
      return { status, body: 'not-found: no such file\n', fields };
    case 'internal':
      return { status, body: 'internal: internal error\n', fields };
    case 'busy':
      return { status, body: 'busy: server busy, try again later\n', fields };
    default:
      return { status, body: `${code}: ${printable(e.message)}\n`, fields };
  }
}

/** One line of printable ASCII, so no message can forge a second line or a field. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);
}
