import { createCipheriv, createDecipheriv } from 'node:crypto';

/** RFC 3394 default initial value. */
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/** AES-256-KW (RFC 3394) of a 32-byte key: 40 bytes out. */
export function wrapKey(kek: Buffer, key: Buffer): Buffer {
  const c = createCipheriv('id-aes256-wrap', kek, KW_IV);
  return Buffer.concat([c.update(key), c.final()]);
}

/** Inverse of {@link wrapKey}; undefined when the integrity check fails (wrong KEK). */
export function unwrapKey(kek: Buffer, wrapped: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv('id-aes256-wrap', kek, KW_IV);
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return undefined;
  }
}
