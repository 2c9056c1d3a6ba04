/**
 * Every failure that reaches a user is a SecureStreamError: a stable `code` that scripts and
 * tests match on, a lower-case message quoting the bad value, and an optional hint. Each code
 * is declared below with its exit class, so the exit status follows from what an error is,
 * never from how its code is spelled. Only the program (program.ts) prints errors and exits.
 */
import { constants } from 'node:os';

/** Exit codes (README "Exit codes"): scripts branch on these. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  tls: 3,
  refused: 4,
  integrity: 5,
  /** SIGINT; an InterruptedError exits 128 + its signal's number (143 SIGTERM, 129 SIGHUP). */
  interrupted: 130,
} as const;

/** What kind of failure an error is, as far as the exit status goes. */
export type ExitClass = Exclude<keyof typeof EXIT, 'ok'>;

/**
 * Every error code with its exit class. A code that is not here does not compile, and a code
 * without a class cannot be added: the type of a code is the set of keys of this table.
 */
const EXIT_CLASS = {
  // How the tool was invoked.
  usage: 'usage',
  interrupted: 'interrupted',

  // Dialling and the TLS handshake, client side (transport/explain.ts).
  'connect-failed': 'tls',
  'tls-handshake': 'tls',
  'tls-client-rejected': 'tls',
  'tls-server-name': 'tls',
  'tls-unknown-ca': 'tls',
  'tls-server-expired': 'tls',
  'tls-server-not-yet-valid': 'tls',
  'tls-server-usage': 'tls',
  'tls-version': 'tls',

  /** The server answered `ERR <code>`; the wire code, known or not, is on the WireError. */
  refused: 'refused',

  // A response that cannot be trusted (docs/PROTOCOL.md).
  truncated: 'integrity',
  'digest-mismatch': 'integrity',
  protocol: 'integrity',
  timeout: 'integrity',

  // The sstream-v1 format (docs/FORMAT.md, "Errors").
  'format-bad-magic': 'integrity',
  'format-bad-version': 'integrity',
  'format-bad-suite': 'integrity',
  'format-bad-chunk-size': 'integrity',
  'format-bad-flags': 'integrity',
  'format-bad-stanza': 'integrity',
  'format-scrypt-cost': 'integrity',
  'format-scrypt-not-alone': 'integrity',
  'format-not-recipient': 'integrity',
  'format-wrong-key': 'integrity',
  'format-wrong-passphrase': 'integrity',
  'format-header-tampered': 'integrity',
  'format-truncated': 'integrity',
  'format-trailing-data': 'integrity',
  'format-chunk-failed': 'integrity',
  'format-empty-final-chunk': 'integrity',

  // Keys and certificates given to encrypt/decrypt (format/recipients.ts, format/keytype.ts).
  'unsupported-key': 'failure',
  'bad-certificate': 'failure',
  'passphrase-empty': 'failure',

  // Certificates, keys and CRLs (pki/).
  'pki-crl-foreign': 'failure',
  'pki-encrypted-key': 'failure',
  'pki-exists': 'failure',
  'pki-expired': 'failure',
  'pki-invalid': 'failure',
  'pki-key-mismatch': 'failure',
  'pki-missing': 'failure',
  'pki-not-yet-valid': 'failure',
  'pki-outlives-ca': 'failure',
  'pki-unknown-target': 'failure',
  'pki-unreadable': 'failure',
  'pki-unsupported-key': 'failure',
  'pki-untrusted': 'failure',
  'pki-write-failed': 'failure',
  'pki-wrong-usage': 'failure',
  'pki-chain': 'failure',
  'crl-missing': 'failure',
  'crl-incomplete': 'failure',
  'crl-ambiguous': 'failure',
  'crl-partial-chain': 'failure',

  // Server configuration and start-up.
  'access-invalid': 'failure',
  'access-unreadable': 'failure',
  'no-usable-cipher': 'failure',
  'listen-failed': 'failure',
  'root-invalid': 'failure',
  'root-exposes-key': 'failure',
  'worker-failed': 'failure',

  // Local files read and written.
  'input-not-found': 'failure',
  'input-unreadable': 'failure',
  'output-dir-missing': 'failure',
  'output-not-writable': 'failure',
  'output-is-directory': 'failure',
  'output-is-socket': 'failure',
  'output-failed': 'failure',
  'output-name-too-long': 'failure',
  'disk-full': 'failure',

  // A transfer as the server sees it; logged as its outcome, never shown to a user.
  'file-changed': 'failure',
  'client-gone': 'failure',

  // What comes before TLS on a connection (transport/proxy.ts, transport/preface.ts); logged.
  'proxy-header-invalid': 'failure',
  'proxy-header-too-long': 'failure',
  'proxy-header-unexpected': 'failure',
  'proxy-untrusted': 'failure',
} as const satisfies Record<string, ExitClass>;

/** Every error code securestream raises. */
export type ErrorCode = keyof typeof EXIT_CLASS;

/** The exit class of a code. */
export function exitClassOf(code: ErrorCode): ExitClass {
  return EXIT_CLASS[code];
}

export class SecureStreamError extends Error {
  override readonly name = 'SecureStreamError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Errors in how the tool was invoked (flags, arguments); the CLI exits 2 for these. */
export class UsageError extends SecureStreamError {
  constructor(message: string, hint?: string) {
    super('usage', message, hint);
  }
}

export function isSecureStreamError(e: unknown): e is SecureStreamError {
  return e instanceof SecureStreamError;
}

/** The signals that interrupt a command that writes files (src/interrupt.ts). */
export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/**
 * A command stopped by a signal; its partial output has been removed, or kept for
 * `get --continue` when the command was asked to keep it (`partial: 'kept'`).
 */
export class InterruptedError extends SecureStreamError {
  /** The process exit status: 128 + the signal's number, as shells report it (130, 143, 129). */
  readonly exitCode: number;

  constructor(
    readonly signal: InterruptSignal,
    partial: 'removed' | 'kept' = 'removed',
  ) {
    super(
      'interrupted',
      `interrupted by ${signal} before the output was complete; ${partial === 'kept' ? 'partial downloads were kept for --continue' : 'the partial file was removed'}`,
    );
    this.exitCode = 128 + constants.signals[signal];
  }
}

/**
 * The process exit status for anything thrown: 128 + the signal number for an interruption,
 * its code's class otherwise, or 1 for a foreign error.
 */
export function exitCodeFor(e: unknown): number {
  if (e instanceof InterruptedError) return e.exitCode;
  return isSecureStreamError(e) ? EXIT[exitClassOf(e.code)] : EXIT.failure;
}

/** Node system errors carry `code`; this narrows without `any`. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = e.code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}
