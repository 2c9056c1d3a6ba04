/**
 * PEM files: reading them (size-capped), splitting them into blocks and decoding certificates
 * and private keys. Decoding only: whether the pieces fit together is checks.ts's business.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { SecureStreamError, errnoCode } from '../errors.js';
import { readInputFile, type InputFileKind } from '../inputfile.js';
import { DerError } from './der.js';
import { checkExtensions, subjectOf } from './describe.js';

/** PEM files larger than this are refused: real CA bundles are far smaller. */
export const MAX_PEM_BYTES = 1024 * 1024;

/** Certificates, keys and CA files. */
export const PEM_FILE: InputFileKind = {
  maxBytes: MAX_PEM_BYTES,
  noun: 'PEM file',
  missing: 'pki-missing',
  unreadable: 'pki-unreadable',
  tooLarge: 'pki-invalid',
  missingHint: 'run "securestream pki init" or pass --ca/--cert/--key',
};

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
const ENCRYPTED_HINT = 'decrypt it once with: openssl pkey -in KEY -out KEY.plain';

/** One `-----BEGIN X-----` … `-----END X-----` block of a PEM file. */
export interface PemBlock {
  label: string;
  /** The block itself, armour included, with a final newline. */
  text: string;
}

/** Reads a PEM file as text; pki-missing, pki-unreadable, or pki-invalid when too large. */
export async function readPemFile(path: string): Promise<string> {
  return (await readInputFile(path, PEM_FILE)).toString('utf8');
}

/** Splits PEM text into its blocks; text outside blocks (comments, `openssl` dumps) is skipped. */
export function pemBlocks(text: string): PemBlock[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  return [...text.matchAll(re)].map((m) => ({ label: m[1] ?? '', text: `${m[0]}\n` }));
}

/** The DER bytes inside one block. */
export function pemBody(block: PemBlock): Buffer {
  const start = block.text.indexOf('-----', 5) + 5; // past "-----BEGIN LABEL-----"
  const end = block.text.lastIndexOf('-----END');
  // node's base64 decoder skips the line breaks: no copy of a several-MiB CRL without them
  return Buffer.from(block.text.slice(start, end), 'base64');
}

/** Wraps DER in PEM armour with 64-character lines. */
export function toPem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{64}(?=.)/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Parses every CERTIFICATE block of a file; at least one is required (else pki-invalid). */
export function parseCertificates(text: string, path: string): X509Certificate[] {
  const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    throw new SecureStreamError(
      'pki-invalid',
      `"${path}" contains no PEM certificate`,
      'certificates must be PEM ("-----BEGIN CERTIFICATE-----"); convert DER with ' +
        'openssl x509 -inform der -in FILE -out FILE.pem',
    );
  }
  return blocks.map((b, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b.text);
    } catch (e) {
      throw new SecureStreamError(
        'pki-invalid',
        `certificate ${i + 1} in "${path}" cannot be parsed`,
        undefined,
        { cause: e },
      );
    }
    try {
      checkExtensions(cert);
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
      throw new SecureStreamError(
        'pki-invalid',
        `certificate ${i + 1} in "${path}" ("${subjectOf(cert)}") breaks RFC 5280: ${e.message}`,
        'issue the certificate again; OpenSSL would refuse it in a handshake too',
        { cause: e },
      );
    }
    return cert;
  });
}

/**
 * Parses the one private key of a file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM. Encrypted keys
 * are refused with pki-encrypted-key, anything else unusable with pki-invalid.
 */
export function parsePrivateKey(text: string, path: string): KeyObject {
  const blocks = pemBlocks(text);
  if (
    blocks.some(
      (b) => b.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(b.text),
    )
  ) {
    throw encryptedKey(path);
  }
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (keys.length !== 1) {
    throw new SecureStreamError(
      'pki-invalid',
      keys.length === 0
        ? `"${path}" contains no PEM private key`
        : `"${path}" contains ${keys.length} private keys, expected one`,
    );
  }
  try {
    return createPrivateKey((keys[0] as PemBlock).text);
  } catch (e) {
    const code = errnoCode(e);
    // OpenSSL 3 reports a missing passphrase as an interrupted password callback
    if (code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED') {
      throw encryptedKey(path);
    }
    throw new SecureStreamError(
      'pki-invalid',
      `private key "${path}" cannot be parsed`,
      undefined,
      {
        cause: e,
      },
    );
  }
}

function encryptedKey(path: string): SecureStreamError {
  return new SecureStreamError(
    'pki-encrypted-key',
    `private key "${path}" is passphrase-protected; encrypted keys are not supported`,
    ENCRYPTED_HINT.replaceAll('KEY', path),
  );
}

/** A private key as PKCS#8 PEM, the form every key file is written in. */
export function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}
