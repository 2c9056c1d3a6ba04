import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { FileKeys } from './keys.js';

/** IV_i = uint64_be(i) ‖ last ‖ seven zero bytes. */
export function chunkIv(index: number, last: boolean): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 0);
  iv.writeUInt32BE(index >>> 0, 4);
  iv[8] = last ? 1 : 0;
  return iv;
}

/**
 * The crypto of one chunk, over a chunk given as pieces (views into the input, never joined):
 * C = AES-256-CTR(K_enc, IV, P), T = HMAC-SHA-256(K_mac, IV ‖ C).
 */
export class ChunkCipher {
  constructor(private readonly keys: FileKeys) {}

  /** Encrypts `plain` and appends C pieces then T to `out`. */
  seal(plain: readonly Buffer[], index: number, last: boolean, out: Buffer[]): void {
    const iv = chunkIv(index, last);
    const cipher = createCipheriv('aes-256-ctr', this.keys.enc, iv);
    const mac = createHmac('sha256', this.keys.mac).update(iv);
    for (const p of plain) {
      const c = cipher.update(p);
      mac.update(c);
      out.push(c);
    }
    out.push(mac.digest());
  }

  /** True when the last 32 bytes of `sealed` are the tag of the rest under this IV. */
  verify(sealed: readonly Buffer[], tag: Buffer, index: number, last: boolean): boolean {
    const iv = chunkIv(index, last);
    const mac = createHmac('sha256', this.keys.mac).update(iv);
    for (const c of sealed) mac.update(c);
    const expected = mac.digest();
    return tag.length === expected.length && timingSafeEqual(tag, expected);
  }

  /** Decrypts ciphertext pieces (tag already removed and verified), appending to `out`. */
  open(cipherText: readonly Buffer[], index: number, last: boolean, out: Buffer[]): void {
    const d = createCipheriv('aes-256-ctr', this.keys.enc, chunkIv(index, last));
    for (const c of cipherText) out.push(d.update(c));
  }
}
