/**
 * Throughput of sstream-v1 encrypt and decrypt next to raw AES-256-CTR and HMAC-SHA-256 in the
 * same process, all streamed from memory. Standalone: `node dist/bench/format.js [SIZE] [RUNS]`.
 */
import { createCipheriv, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import {
  createDecryptStream,
  createEncryptStream,
  Encryptor,
  identityFromPrivateKey,
  recipientFromPublicKey,
  type Recipient,
} from '../src/format/index.js';
import { parseSize } from '../src/config.js';
import { READ_CHUNK } from '../src/transport/filesource.js';

/** Median, min and max of one measurement, in MB/s (10^6 bytes per second). */
export interface Rate {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Figures of {@link benchFormat}. */
export interface FormatBench {
  readonly bytes: number;
  readonly runs: number;
  readonly aesCtr: Rate;
  readonly hmac: Rate;
  /** 1 / (1/aes + 1/hmac): the two primitives in series, the ceiling for the format. */
  readonly bound: number;
  readonly encrypt: Rate;
  /** The Encryptor without a stream around it, fed 256 KiB reads: what `serve --encrypt` runs. */
  readonly encryptCore: Rate;
  readonly decrypt: Rate;
}

const BLOCK = 1 << 20;
const PRIMITIVE_SLICE = 1 << 16;

function* blocks(bytes: number, block: Buffer): Generator<Buffer> {
  for (let left = bytes; left > 0; left -= block.length) {
    yield left >= block.length ? block : block.subarray(0, left);
  }
}

const discard = () =>
  new Writable({
    write(_b: Buffer, _e, cb) {
      cb();
    },
    writev(_c, cb) {
      cb();
    },
  });

async function seconds(fn: () => Promise<void> | void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function rate(bytes: number, secs: number[]): Rate {
  const r = secs.map((s) => bytes / s / 1e6).sort((x, y) => x - y);
  const mid = Math.floor(r.length / 2);
  const median = r.length % 2 ? (r[mid] ?? 0) : ((r[mid - 1] ?? 0) + (r[mid] ?? 0)) / 2;
  return { median, min: r[0] ?? 0, max: r[r.length - 1] ?? 0 };
}

/**
 * Measures encrypt, decrypt, AES-256-CTR alone and HMAC-SHA-256 alone over `bytes` bytes.
 * The five run interleaved, `runs` rounds, so a busy machine slows all of them alike; the
 * primitives are fed 64 KiB at a time, the chunk size, which is their fastest granularity here.
 */
export async function benchFormat(
  opts: { bytes?: number; runs?: number } = {},
): Promise<FormatBench> {
  const bytes = opts.bytes ?? 1 << 30;
  const runs = opts.runs ?? 3;
  const block = randomBytes(BLOCK);
  const key = randomBytes(32);
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const recipients = [recipientFromPublicKey(pair.publicKey)];
  const identities = [identityFromPrivateKey(pair.privateKey)];
  const file = await encryptToMemory(bytes, block, recipients);
  function* slices() {
    for (let i = 0; i < file.length; i += BLOCK) yield file.subarray(i, i + BLOCK);
  }
  const t = {
    aes: [] as number[],
    mac: [] as number[],
    enc: [] as number[],
    core: [] as number[],
    dec: [] as number[],
  };
  for (let i = 0; i < runs; i++) {
    t.aes.push(
      await seconds(() => {
        const c = createCipheriv('aes-256-ctr', key, randomBytes(16));
        for (const b of blocks(bytes, block.subarray(0, PRIMITIVE_SLICE))) c.update(b);
      }),
    );
    t.mac.push(
      await seconds(() => {
        const h = createHmac('sha256', key);
        for (const b of blocks(bytes, block.subarray(0, PRIMITIVE_SLICE))) h.update(b);
        h.digest();
      }),
    );
    t.enc.push(
      await seconds(() =>
        pipeline(
          Readable.from(blocks(bytes, block)),
          createEncryptStream({ recipients }),
          discard(),
        ),
      ),
    );
    t.core.push(
      await seconds(async () => {
        const e = await Encryptor.create({ recipients });
        for (const b of blocks(bytes, block.subarray(0, READ_CHUNK))) e.update(b);
        e.final();
      }),
    );
    t.dec.push(
      await seconds(() =>
        pipeline(Readable.from(slices()), createDecryptStream({ identities }), discard()),
      ),
    );
  }
  const aesCtr = rate(bytes, t.aes);
  const hmac = rate(bytes, t.mac);
  const bound = 1 / (1 / aesCtr.median + 1 / hmac.median);
  return {
    bytes,
    runs,
    aesCtr,
    hmac,
    bound,
    encrypt: rate(bytes, t.enc),
    encryptCore: rate(bytes, t.core),
    decrypt: rate(bytes, t.dec),
  };
}

/** The decrypt input: one encrypted file of `bytes` plaintext bytes, kept in memory. */
async function encryptToMemory(
  bytes: number,
  block: Buffer,
  recipients: Recipient[],
): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from(blocks(bytes, block)),
    createEncryptStream({ recipients }),
    new Writable({
      write(b: Buffer, _e, cb) {
        parts.push(b);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

/** One line per figure, for people. */
export function formatReport(r: FormatBench): string[] {
  const f = (x: Rate) => `${x.median.toFixed(0)} MB/s (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;
  const pct = (x: Rate) => ((100 * x.median) / r.bound).toFixed(0);
  return [
    `sstream-v1 over ${r.bytes} bytes, median (min–max) of ${r.runs} runs`,
    `aes-256-ctr alone   ${f(r.aesCtr)}`,
    `hmac-sha256 alone   ${f(r.hmac)}`,
    `primitives in series ${r.bound.toFixed(0)} MB/s`,
    `encrypt (stream)    ${f(r.encrypt)}  ${pct(r.encrypt)} % of bound`,
    `encrypt (Encryptor) ${f(r.encryptCore)}  ${pct(r.encryptCore)} % of bound (serve --encrypt)`,
    `decrypt (stream)    ${f(r.decrypt)}  ${pct(r.decrypt)} % of bound`,
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const bytes = process.argv[2] ? parseSize(process.argv[2]) : 1 << 30;
  const runs = process.argv[3] ? Number(process.argv[3]) : 3;
  for (const line of formatReport(await benchFormat({ bytes, runs }))) console.log(line);
}
