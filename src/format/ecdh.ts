import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { LABEL, RID_SIZE, STANZA_ECDH_ES, WRAPPED_KEY_SIZE } from './constants.js';
import { formatError } from './errors.js';
import { hkdf32 } from './keys.js';
import { unwrapKey, wrapKey } from './keywrap.js';
import { classifyKey, recipientId, ridText } from './keytype.js';
import type { EcCurve, Identity, Recipient, Stanza, UnwrapResult } from './stanza.js';

interface CurveInfo {
  readonly id: number;
  readonly name: EcCurve;
  readonly openssl: string;
  readonly coord: number;
}
const P256: CurveInfo = { id: 1, name: 'P-256', openssl: 'prime256v1', coord: 32 };
const P384: CurveInfo = { id: 2, name: 'P-384', openssl: 'secp384r1', coord: 48 };
const BY_NAME: Record<EcCurve, CurveInfo> = { 'P-256': P256, 'P-384': P384 };
const BY_ID = new Map<number, CurveInfo>([
  [1, P256],
  [2, P384],
]);

/** Uncompressed point size (0x04 ‖ x ‖ y) on a curve. */
const pointSize = (c: CurveInfo) => 1 + 2 * c.coord;
const bodySize = (c: CurveInfo) => RID_SIZE + 1 + pointSize(c) + WRAPPED_KEY_SIZE;

/**
 * Header check (step 1): curve byte known, exact body length for it, epk an uncompressed point
 * on the curve. Returns the epk as a KeyObject.
 */
export function checkEcdhBody(body: Buffer, index: number): KeyObject {
  const curve = BY_ID.get(body[RID_SIZE] ?? 0);
  if (!curve) {
    throw formatError(
      'format-bad-stanza',
      `stanza ${index} (ecdh-es) names unknown curve ${body[RID_SIZE] ?? 'none'}`,
      'v1 knows curve 1 (P-256) and 2 (P-384)',
    );
  }
  if (body.length !== bodySize(curve)) {
    throw formatError(
      'format-bad-stanza',
      `stanza ${index} (ecdh-es ${curve.name}) has length ${body.length}, ` +
        `expected ${bodySize(curve)}`,
    );
  }
  const epk = body.subarray(RID_SIZE + 1, RID_SIZE + 1 + pointSize(curve));
  const key = epk[0] === 0x04 ? importPoint(curve, epk) : undefined;
  if (!key) {
    throw formatError(
      'format-bad-stanza',
      `stanza ${index} (ecdh-es ${curve.name}) has an ephemeral key that is not a point ` +
        `on ${curve.name}`,
    );
  }
  return key;
}

function importPoint(curve: CurveInfo, epk: Buffer): KeyObject | undefined {
  try {
    const x = epk.subarray(1, 1 + curve.coord).toString('base64url');
    const y = epk.subarray(1 + curve.coord).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: curve.name, x, y }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

function exportPoint(curve: CurveInfo, key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const coord = (v: string | undefined) => {
    const b = Buffer.from(v ?? '', 'base64url');
    return Buffer.concat([Buffer.alloc(curve.coord - b.length), b]);
  };
  return Buffer.concat([Buffer.of(0x04), coord(jwk.x), coord(jwk.y)]);
}

function kek(z: Buffer, epk: Buffer, rid: Buffer): Buffer {
  return hkdf32(z, Buffer.concat([epk, rid]), LABEL.ecdhEs);
}

/** A 0x02 ECDH-ES recipient for an EC public key on `curve`. */
export function ecdhRecipient(publicKey: KeyObject, curve: EcCurve): Recipient {
  const info = BY_NAME[curve];
  const rid = recipientId(publicKey);
  return {
    type: STANZA_ECDH_ES,
    bodyLength: bodySize(info),
    wrap(fileKey, ctx) {
      const eph = ctx.ephemeral(curve);
      const ephType = classifyKey(eph);
      if (eph.type !== 'private' || ephType.kind !== 'ec' || ephType.curve !== curve) {
        throw new TypeError(`ephemeral source must return a private ${curve} key`);
      }
      const epk = exportPoint(info, eph);
      const z = diffieHellman({ privateKey: eph, publicKey });
      const w = wrapKey(kek(z, epk, rid), fileKey);
      return Promise.resolve(Buffer.concat([rid, Buffer.of(info.id), epk, w]));
    },
  };
}

/** The identity of an EC private key on `curve`. */
export function ecdhIdentity(privateKey: KeyObject, curve: EcCurve): Identity {
  const info = BY_NAME[curve];
  const rid = recipientId(privateKey);
  return {
    description: `EC ${curve} key ${ridText(rid)}`,
    unwrap(stanzas: readonly Stanza[]): Promise<UnwrapResult> {
      let matched = false;
      for (const [i, s] of stanzas.entries()) {
        if (s.type !== STANZA_ECDH_ES || !s.body.subarray(0, RID_SIZE).equals(rid)) continue;
        const epkKey = checkEcdhBody(s.body, i);
        if (s.body[RID_SIZE] !== info.id) {
          throw formatError(
            'format-bad-stanza',
            `stanza ${i} (ecdh-es) names our key but curve ${s.body[RID_SIZE] ?? 0}`,
          );
        }
        matched = true;
        const epk = s.body.subarray(RID_SIZE + 1, RID_SIZE + 1 + pointSize(info));
        const z = diffieHellman({ privateKey, publicKey: epkKey });
        const fileKey = unwrapKey(kek(z, epk, rid), s.body.subarray(s.body.length - 40));
        if (fileKey) return Promise.resolve({ kind: 'ok', fileKey });
      }
      return Promise.resolve(
        matched ? { kind: 'failed', code: 'format-wrong-key' } : { kind: 'none' },
      );
    },
  };
}

/** Default ephemeral source: a fresh key pair per stanza. */
export function randomEphemeral(curve: EcCurve): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: BY_NAME[curve].openssl }).privateKey;
}

/**
 * An EC private key from its big-endian scalar; used to inject a fixed ephemeral key (test
 * vectors) or to load a raw scalar.
 */
export function ecPrivateKeyFromScalar(curve: EcCurve, d: Buffer): KeyObject {
  const info = BY_NAME[curve];
  const ecdh = createECDH(info.openssl);
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const b64 = (b: Buffer) => b.toString('base64url');
  const jwk = {
    kty: 'EC',
    crv: curve,
    d: b64(d),
    x: b64(pub.subarray(1, 1 + info.coord)),
    y: b64(pub.subarray(1 + info.coord)),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}
