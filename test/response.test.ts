/**
 * ResponseParser without sockets: the fault table of the fake-server tests fed whole, in
 * seeded random slices and byte by byte, and the parser's own rules (refusals, empty bodies,
 * sstream-v1 trailers, caps, reset for a next response).
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecureStreamError } from '../src/errors.js';
import { encodeOk, encodeTrailer } from '../src/protocol.js';
import { ResponseParser, type ResponseEvent } from '../src/transport/response.js';
import { BODY, FAULTS, OK, SHA, TRAILER, scriptBytes } from './helpers/faults.js';
import { seededSizes } from './helpers/feed.js';

interface Outcome {
  head?: string;
  refusal?: string;
  body: Buffer;
  trailer?: string;
  error?: SecureStreamError;
}

/** Feeds `bytes` in slices of `next()` bytes, then ends the stream; collects what came out. */
function parse(bytes: Buffer, next: () => number, parser = new ResponseParser()): Outcome {
  const body: Buffer[] = [];
  const out: Omit<Outcome, 'body'> = {};
  const take = (events: ResponseEvent[]): void => {
    for (const e of events) {
      if (e.type === 'head') out.head = `${e.length} ${e.mode}`;
      else if (e.type === 'refusal') out.refusal = `${e.code} ${e.message}`;
      // copied: a slice is a view of the pushed chunk
      else if (e.type === 'body') body.push(Buffer.from(e.data));
      else out.trailer = e.trailer.bodySha256;
    }
  };
  try {
    for (let i = 0; i < bytes.length;) {
      const n = Math.min(next(), bytes.length - i);
      take(parser.push(bytes.subarray(i, i + n)));
      i += n;
    }
    parser.finish();
  } catch (e) {
    assert.ok(e instanceof SecureStreamError, `threw ${String(e)}`);
    out.error = e;
  }
  return { ...out, body: Buffer.concat(body) };
}

const FEEDS: [string, (total: number) => () => number][] = [
  ['whole', (total) => () => Math.max(total, 1)],
  ['in slices', () => seededSizes(7000, 11)],
  ['byte by byte', () => () => 1],
];

describe('ResponseParser', () => {
  for (const [how, sizes] of FEEDS) {
    describe(how, () => {
      it('a correct response: head, every body byte, the verified trailer', () => {
        const bytes = Buffer.concat([Buffer.from(OK), BODY, Buffer.from(TRAILER)]);
        const r = parse(bytes, sizes(bytes.length));
        assert.equal(r.error, undefined);
        assert.equal(r.head, `${BODY.length} plain`);
        assert.ok(r.body.equals(BODY));
        assert.equal(r.trailer, SHA);
      });

      for (const c of FAULTS) {
        it(`${c.name}: ${c.code}`, () => {
          const bytes = scriptBytes(c.script);
          const r = parse(bytes, sizes(bytes.length));
          assert.equal(r.error?.code, c.code, r.error?.message ?? 'no error');
          assert.match(r.error.message, c.words);
        });
      }
    });
  }

  it('a refusal: the code as sent, also one this version does not know; later bytes unread', () => {
    const r = parse(Buffer.from('ERR quota over quota\nOK 1 plain\n'), () => 1);
    assert.equal(r.refusal, 'quota over quota');
    assert.equal(r.head, undefined);
    assert.equal(r.error, undefined);
  });

  it('an empty body: head, then straight to the trailer', () => {
    const empty = createHash('sha256').digest('hex');
    const bytes = Buffer.concat([encodeOk(0, 'plain'), encodeTrailer(empty)]);
    const r = parse(bytes, () => 1);
    assert.equal(r.head, '0 plain');
    assert.equal(r.body.length, 0);
    assert.equal(r.trailer, empty);
  });

  it('sstream-v1 wants both digests in the trailer', () => {
    const body = Buffer.from('ciphertext');
    const sha = createHash('sha256').update(body).digest('hex');
    const ok = parse(
      Buffer.concat([
        encodeOk(body.length, 'sstream-v1'),
        body,
        encodeTrailer(sha, 'ab'.repeat(32)),
      ]),
      () => 3,
    );
    assert.equal(ok.trailer, sha);
    const one = parse(
      Buffer.concat([encodeOk(body.length, 'sstream-v1'), body, encodeTrailer(sha)]),
      () => 3,
    );
    assert.equal(one.error?.code, 'protocol');
    assert.match(one.error.message, /lacks the plaintext digest/);
  });

  it('nothing at all before the end: not started, and finish says so', () => {
    const p = new ResponseParser();
    assert.equal(p.started, false);
    assert.throws(() => {
      p.finish();
    }, /closed before any response/);
  });

  it('caps are the parser’s: a header line of exactly the cap passes, one byte more fails', () => {
    const caps = { headerLine: 16, trailerLine: 256 };
    const fits = Buffer.from('OK 1234 plain  \n'); // 16 bytes with LF: malformed, but not over
    assert.equal(fits.length, 16);
    assert.equal(
      parse(fits, () => 1, new ResponseParser(caps)).error?.message.includes('longer'),
      false,
    );
    const over = Buffer.from('OK 1234 plain   \n');
    assert.match(
      parse(over, () => 1, new ResponseParser(caps)).error?.message ?? '',
      /response header longer than 16 bytes/,
    );
  });

  it('reset readies it for a next response on the same connection', () => {
    const p = new ResponseParser();
    const first = Buffer.concat([Buffer.from(OK), BODY, Buffer.from(TRAILER)]);
    assert.equal(parse(first, () => 4096, p).trailer, SHA);
    assert.throws(() => p.push(Buffer.from('O')), /extra bytes after the trailer/);
    p.reset();
    assert.equal(p.started, false);
    assert.equal(p.received, 0);
    const second = Buffer.from('hi');
    const sha = createHash('sha256').update(second).digest('hex');
    const r = parse(Buffer.concat([encodeOk(2, 'plain'), second, encodeTrailer(sha)]), () => 1, p);
    assert.equal(r.head, '2 plain');
    assert.ok(r.body.equals(second));
    assert.equal(r.trailer, sha);
  });
});
