/**
 * One file over the line protocol (docs/PROTOCOL.md §2): one connection, `GET`, the body, the
 * trailer, the server's close. The line protocol has no ranges, so a retry starts over and a
 * partial download is never kept.
 */
import { AtomicFile } from '../atomic.js';
import { SecureStreamError } from '../errors.js';
import { openSpecial, type OutputFile } from '../specialfile.js';
import { retry } from '../retry.js';
import { lineRequest } from '../transport/client.js';
import type { Dialed } from '../transport/dial.js';
import type { FetchJob, FetchSettings, Fetched } from './job.js';
import { checkPlaintext, finalPath, storeBody } from './store.js';

/** Fetches `job` over connections from `connect`, retrying as `s.retry` allows. */
export async function fetchOverLine(
  connect: () => Promise<Dialed>,
  job: FetchJob,
  s: FetchSettings,
): Promise<Fetched> {
  if (s.keepPartial && job.output.kind === 'file') {
    s.note(`"${job.name}": the line protocol cannot resume, so no partial download is kept`);
  }
  // Bytes on standard output or a device cannot be taken back: once some went out, a failure
  // is final.
  const state = { wrote: false };
  const policy = s.retry && {
    ...s.retry,
    retryable: (e: unknown) => !state.wrote && (s.retry?.retryable(e) ?? false),
  };
  // A device or FIFO is opened once for all attempts: closing a FIFO would end its reader.
  const special =
    job.output.kind === 'special'
      ? (job.file ?? (await openSpecial(job.output.path, job.output.special, { signal: s.signal })))
      : undefined;
  try {
    return await retry(() => once(connect, job, s, state, special), policy, {
      signal: s.signal,
      onRetry: (e, ms) => {
        s.note(`"${job.name}": ${(e as Error).message}; starting over in ${ms} ms`);
      },
    });
  } catch (e) {
    await special?.abort();
    throw e;
  }
}

async function once(
  connect: () => Promise<Dialed>,
  job: FetchJob,
  s: FetchSettings,
  state: { wrote: boolean },
  special: OutputFile | undefined,
): Promise<Fetched> {
  const { output } = job;
  // Created before dialling: an output folder that is missing or read-only fails at once.
  const file =
    special ??
    (output.kind === 'file'
      ? await AtomicFile.create(output.path, { signal: s.signal, syncFolder: s.syncFolder })
      : undefined);
  try {
    const dialed = await connect();
    const res = await lineRequest(dialed, { name: job.name, signal: s.signal });
    s.announce(res.length);
    if (s.verbose) s.note(`receiving ${res.length} bytes, mode ${res.mode}`);
    res.body.on('data', (b: Buffer) => {
      state.wrote ||= output.kind !== 'file';
      s.progress(b.length);
    });
    const sink = file ? file.sink() : process.stdout;
    const stored = await storeBody(res.body, res.mode, s.privateKey, s.decrypt, sink);
    const trailer = res.body.trailer;
    if (!trailer) throw new SecureStreamError('protocol', 'the response ended without a trailer');
    let sha256 = trailer.bodySha256;
    if (stored.decrypts) {
      sha256 = stored.plaintextSha256 ?? '';
      checkPlaintext(sha256, trailer.plaintextSha256);
    }
    let path = '-';
    let committed = Promise.resolve();
    if (file && output.kind !== 'stdout') {
      path = output.kind === 'file' ? finalPath(output, res.mode, stored.decrypts) : output.path;
      committed = file.direct ? file.commit() : file.commit(path);
    }
    const result = {
      name: job.name,
      path,
      mode: res.mode,
      size: res.length,
      received: res.length,
      sha256,
      decrypted: stored.decrypts,
      protocol: res.protocol,
      cipher: res.cipher,
    };
    return { result, committed };
  } catch (e) {
    if (file !== special) await file?.abort();
    throw e;
  }
}
