/**
 * Every way a response can go wrong on the wire, as scripts for the fake server. The same
 * table drives the response parser directly (test/response.test.ts: whole, in slices, byte by
 * byte) and the real client against a fake server (test/e2e/client-faults.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FakeScript } from './fakeserver.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export const BODY = randomBytes(100_000);
export const SHA = sha256(BODY);
export const OTHER_SHA = sha256(Buffer.from('not the body'));
export const OK = `OK ${BODY.length} plain\n`;
export const TRAILER = `SHA256 ${SHA}\n`;

/** A response cut after 40 000 of its 100 000 body bytes. */
export const CUT: FakeScript = { header: OK, body: BODY, closeAfterBodyBytes: 40_000 };

export interface FaultCase {
  name: string;
  script: FakeScript;
  /** What the error message says. */
  words: RegExp;
  /** The error code the client reports (all exit 5). */
  code: 'truncated' | 'protocol' | 'digest-mismatch';
}

export const FAULTS: FaultCase[] = [
  {
    name: 'server-closes-mid-body',
    script: CUT,
    words: /connection closed after 40000 of 100000 bytes/,
    code: 'truncated',
  },
  {
    name: 'server-drops-tcp-mid-body-without-close-notify',
    script: { ...CUT, end: 'fin' },
    words: /connection closed after 40000 of 100000 bytes/,
    code: 'truncated',
  },
  {
    name: 'server-closes-in-the-middle-of-the-header',
    script: { header: 'OK 1000', closeAfterBodyBytes: 0 },
    words: /connection closed in the middle of the response header/,
    code: 'protocol',
  },
  {
    name: 'trailer-missing',
    script: { header: OK, body: BODY },
    words: /connection closed after 100000 of 100000 bytes \(no trailer\)/,
    code: 'truncated',
  },
  {
    name: 'trailer-without-newline',
    script: { header: OK, body: BODY, trailer: `SHA256 ${SHA}` },
    words: /\(no trailer\)/,
    code: 'truncated',
  },
  {
    name: 'trailer-wrong-digest',
    script: { header: OK, body: BODY, trailer: `SHA256 ${OTHER_SHA}\n` },
    words: new RegExp(`received bytes have SHA-256 ${SHA}, the server's trailer says ${OTHER_SHA}`),
    code: 'digest-mismatch',
  },
  {
    name: 'trailer-malformed',
    script: { header: OK, body: BODY, trailer: 'SHA256 not-a-digest\n' },
    words: /malformed trailer "SHA256 not-a-digest"/,
    code: 'protocol',
  },
  {
    name: 'trailer-upper-case-hex',
    script: { header: OK, body: BODY, trailer: `SHA256 ${SHA.toUpperCase()}\n` },
    words: /malformed trailer/,
    code: 'protocol',
  },
  {
    name: 'trailer-two-digests-in-plain-mode',
    script: { header: OK, body: BODY, trailer: `SHA256 ${SHA} ${SHA}\n` },
    words: /trailer has two digests in plain mode/,
    code: 'protocol',
  },
  {
    name: 'trailer-longer-than-its-cap',
    script: { header: OK, body: BODY, trailer: `SHA256 ${'a'.repeat(300)}` },
    words: /trailer longer than 256 bytes/,
    code: 'protocol',
  },
  {
    name: 'extra-bytes-after-trailer',
    script: { header: OK, body: BODY, trailer: TRAILER, extra: Buffer.from('X') },
    words: /extra bytes after the trailer/,
    code: 'protocol',
  },
  {
    name: 'second-trailer-after-trailer',
    script: { header: OK, body: BODY, trailer: TRAILER, extra: Buffer.from(TRAILER) },
    words: /extra bytes after the trailer/,
    code: 'protocol',
  },
  {
    name: 'header-garbage',
    script: { header: 'HTTP/1.1 200 OK\r\n', body: BODY, trailer: TRAILER },
    words: /malformed response header "HTTP\/1\.1 200 OK"/,
    code: 'protocol',
  },
  {
    name: 'header-binary-garbage',
    script: { header: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0a]), body: BODY },
    words: /malformed response header/,
    code: 'protocol',
  },
  {
    name: 'header-non-canonical-length',
    script: { header: `OK 0${BODY.length} plain\n`, body: BODY, trailer: TRAILER },
    words: /malformed response header "OK 0100000 plain"/,
    code: 'protocol',
  },
  {
    name: 'header-negative-length',
    script: { header: 'OK -1 plain\n', body: BODY, trailer: TRAILER },
    words: /malformed response header "OK -1 plain"/,
    code: 'protocol',
  },
  {
    name: 'header-unknown-mode',
    script: { header: `OK ${BODY.length} gzip\n`, body: BODY, trailer: TRAILER },
    words: /unknown mode "gzip"/,
    code: 'protocol',
  },
  {
    name: 'header-without-newline-past-its-cap',
    script: { header: 'O'.repeat(5000) },
    words: /response header longer than 4096 bytes/,
    code: 'protocol',
  },
  {
    name: 'length-header-larger-than-what-is-sent',
    script: { header: 'OK 150000 plain\n', body: BODY, trailer: TRAILER },
    // the trailer's 72 bytes are taken as body: still short of 150000
    words: /connection closed after 100072 of 150000 bytes/,
    code: 'truncated',
  },
  {
    name: 'length-header-smaller-than-what-is-sent',
    script: { header: 'OK 99999 plain\n', body: BODY, trailer: TRAILER },
    // the last body byte is read as the start of a trailer line
    words: /malformed trailer/,
    code: 'protocol',
  },
];

/** The bytes a script puts on the wire, in order (how the connection ends aside). */
export function scriptBytes(s: FakeScript): Buffer {
  const parts: Buffer[] = [Buffer.from(s.header)];
  const body = s.body ?? Buffer.alloc(0);
  if (s.closeAfterBodyBytes !== undefined) {
    parts.push(body.subarray(0, s.closeAfterBodyBytes));
  } else {
    parts.push(body);
    if (s.trailer !== undefined) parts.push(Buffer.from(s.trailer));
    if (s.extra) parts.push(s.extra);
  }
  return Buffer.concat(parts);
}
