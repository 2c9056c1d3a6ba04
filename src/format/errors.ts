import { SecureStreamError } from '../errors.js';

/**
 * Stable codes for every way an sstream-v1 file can be refused (docs/FORMAT.md, "Errors").
 * Scripts and tests match on these; messages may change.
 */
export type FormatErrorCode =
  | 'format-bad-magic'
  | 'format-bad-version'
  | 'format-bad-suite'
  | 'format-bad-chunk-size'
  | 'format-bad-flags'
  | 'format-bad-stanza'
  | 'format-scrypt-cost'
  | 'format-scrypt-not-alone'
  | 'format-not-recipient'
  | 'format-wrong-key'
  | 'format-wrong-passphrase'
  | 'format-header-tampered'
  | 'format-truncated'
  | 'format-trailing-data'
  | 'format-chunk-failed'
  | 'format-empty-final-chunk';

/** A SecureStreamError whose code is one of {@link FormatErrorCode}. */
export function formatError(code: FormatErrorCode, message: string, hint?: string) {
  return new SecureStreamError(code, message, hint);
}
