import { SecureStreamError, type ErrorCode } from '../errors.js';

/**
 * Stable codes for every way an sstream-v1 file can be refused (docs/FORMAT.md, "Errors"),
 * declared with their exit class in ../errors.ts. Scripts and tests match on these; messages
 * may change.
 */
export type FormatErrorCode = Extract<ErrorCode, `format-${string}`>;

/** A SecureStreamError whose code is one of {@link FormatErrorCode}. */
export function formatError(code: FormatErrorCode, message: string, hint?: string) {
  return new SecureStreamError(code, message, hint);
}
