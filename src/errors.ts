/**
 * Every failure that reaches a user is a SecureStreamError: a stable `code` that scripts and
 * tests match on, a lower-case message quoting the bad value, and an optional hint.
 * Only the entry point (cli.ts) prints errors and picks exit codes.
 */
export class SecureStreamError extends Error {
  override readonly name = 'SecureStreamError';
  constructor(
    readonly code: string,
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

/** Node system errors carry `code`; this narrows without `any`. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = e.code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}
