import { RID_SIZE, STANZA_ECDH_ES, STANZA_RSA_OAEP, STANZA_SCRYPT } from './constants.js';
import { formatError } from './errors.js';
import type { Header } from './header.js';
import { ridText } from './keytype.js';
import type { Identity, Stanza } from './stanza.js';

/**
 * Decoding steps 2 and 3: offers the stanzas to each identity in turn and returns the first
 * file key unwrapped.
 * @throws `format-not-recipient` when no stanza is addressed to any identity, else the
 * `format-wrong-key` / `format-wrong-passphrase` of the first identity that matched but failed.
 */
export async function openHeader(identities: readonly Identity[], header: Header): Promise<Buffer> {
  let failed: 'format-wrong-key' | 'format-wrong-passphrase' | undefined;
  for (const id of identities) {
    const r = await id.unwrap(header.stanzas);
    if (r.kind === 'ok') return r.fileKey;
    if (r.kind === 'failed') failed ??= r.code;
  }
  const to = describeStanzas(header.stanzas);
  if (failed === 'format-wrong-passphrase') {
    throw formatError('format-wrong-passphrase', 'wrong passphrase', 'check the passphrase file');
  }
  if (failed === 'format-wrong-key') {
    throw formatError(
      'format-wrong-key',
      'wrong key or corrupt stanza: the stanza for this key would not unwrap',
      `the file is encrypted to: ${to}`,
    );
  }
  const mine = identities.map((i) => i.description).join(', ');
  throw formatError(
    'format-not-recipient',
    `file is not encrypted to ${mine}`,
    `the file is encrypted to: ${to}`,
  );
}

/** Human summary of the stanzas, e.g. `EC key 9edc113e5a5c51f0, passphrase`. */
export function describeStanzas(stanzas: readonly Stanza[]): string {
  return stanzas
    .map((s) => {
      const rid = ridText(s.body.subarray(0, RID_SIZE));
      if (s.type === STANZA_RSA_OAEP) return `RSA key ${rid}`;
      if (s.type === STANZA_ECDH_ES) return `EC key ${rid}`;
      if (s.type === STANZA_SCRYPT) return 'a passphrase';
      return `unknown stanza type ${s.type}`;
    })
    .join(', ');
}
