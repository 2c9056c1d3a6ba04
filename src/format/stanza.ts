/** One recipient stanza as it sits in the header: a type byte and an opaque body. */
export interface Stanza {
  readonly type: number;
  readonly body: Buffer;
}

/** Injectable randomness: returns n fresh random bytes. */
export type RandomSource = (n: number) => Buffer;

/** Curves the ECDH-ES stanza supports, by JOSE name. */
export type EcCurve = 'P-256' | 'P-384';

/** Injectable ephemeral-key generator for ECDH-ES: returns a fresh private key on `curve`. */
export type EphemeralSource = (curve: EcCurve) => import('node:crypto').KeyObject;

/** What a recipient needs at encryption time. */
export interface WrapContext {
  readonly random: RandomSource;
  readonly ephemeral: EphemeralSource;
}

/** Someone a file is encrypted to: wraps the file key into one stanza. */
export interface Recipient {
  /** Stanza type this recipient writes. */
  readonly type: number;
  /** Exact length of the stanza body, known before wrapping (encryptedSize needs it). */
  readonly bodyLength: number;
  /** Wraps `fileKey` into a stanza body of exactly `bodyLength` bytes. */
  wrap(fileKey: Buffer, ctx: WrapContext): Promise<Buffer>;
}

/** The outcome of offering the header stanzas to an identity. */
export type UnwrapResult =
  | { readonly kind: 'ok'; readonly fileKey: Buffer }
  /** No stanza is addressed to this identity. */
  | { readonly kind: 'none' }
  /** A stanza matched but would not unwrap: a wrong key or passphrase, or a corrupt stanza. */
  | { readonly kind: 'failed'; readonly code: 'format-wrong-key' | 'format-wrong-passphrase' };

/** Someone who can open files: finds its stanza and unwraps the file key. */
export interface Identity {
  /** Words for error messages, e.g. `EC P-256 key 9edc113e…`. */
  readonly description: string;
  unwrap(stanzas: readonly Stanza[]): Promise<UnwrapResult>;
}
