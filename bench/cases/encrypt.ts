/**
 * Case 2: `serve --encrypt` (sstream-v1 bodies), measured in the same rounds as plain serving
 * (case 1): `get` storing the ciphertext (every chunk MAC verified) and `get --decrypt`
 * storing the plaintext.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encryptedSize, recipientFromPublicKey } from '../../src/format/index.js';
import { getCmd, startServe } from '../peers/securestream.js';
import { sha256File, verifyGet, type CaseContext, type Contender } from './common.js';

/** The two sstream-v1 contenders; the plain baseline is case 1's securestream. */
export function encryptContenders(ctx: CaseContext): { list: Contender[]; notes: string[] } {
  const file = ctx.file('download');
  const p = ctx.peer;
  const recipient = recipientFromPublicKey(
    new X509Certificate(readFileSync(p.pki.clientCert)).publicKey,
  );
  const cipherSize = encryptedSize(file.size, [recipient]);
  let rehashed = false;
  const list: Contender[] = [
    {
      name: 'encrypt → get (stores ciphertext)',
      start: () => startServe(p, { encrypt: true }),
      command: (s, f, out) => getCmd(p, s.port, f.name, out),
      fsyncAfter: false,
      storedSize: () => cipherSize,
      // get has checked every chunk MAC and the trailer; the digest it prints is the copy's.
      // The copy is re-hashed here in the first round only (a fresh file key each time).
      verify: async (t, _f, out) => {
        const printed = t.stdout.trim().split(/\s+/)[0];
        if (!printed || !/^[0-9a-f]{64}$/.test(printed)) throw new Error('get printed no digest');
        if (rehashed) return;
        rehashed = true;
        const stored = await sha256File(out);
        if (printed !== stored) throw new Error(`get printed ${printed}, copy has ${stored}`);
      },
    },
    {
      name: 'encrypt → get --decrypt',
      start: () => startServe(p, { encrypt: true }),
      command: (s, f, out) => getCmd(p, s.port, f.name, out, { decrypt: true }),
      fsyncAfter: false,
      verify: (t, f, out) => verifyGet(t, f.sha256, out, 'decrypt'),
    },
  ];
  return { list, notes: [`ciphertext of ${file.size} bytes is ${cipherSize} bytes`] };
}
