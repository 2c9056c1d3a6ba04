/**
 * `securestream get NAME... [--from FILE] [--out PATH]`: one or many verified downloads in one
 * process. Names come from the command line and `--from`; patterns are resolved against the
 * server's listing; the server's wire (HTTP/1.1 keep-alive, or the line protocol of a server
 * before it) comes from the first handshake. One name is stored as before (`--out FILE`,
 * `--out -`); several go into a folder, `-j` at a time.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { AtomicFile, checkNameFits, outputError } from '../atomic.js';
import type { GetOptions } from '../config.js';
import { SecureStreamError, UsageError } from '../errors.js';
import { runBatch, type BatchOutcome } from '../fetch/batch.js';
import type { FetchJob, FetchResult } from '../fetch/job.js';
import { openSpecial, type OutputFile } from '../specialfile.js';
import { expandPattern, isPattern, readNameList, type Wanted } from '../fetch/names.js';
import { Remote } from '../fetch/remote.js';
import { inFolder, missingFolder, resolveOutput, type Output } from '../fetch/store.js';
import { loadTlsMaterial } from '../pki/load.js';
import { networkFailures } from '../retry.js';
import { formatHostPort } from '../transport/address.js';

/** What the command reports while it runs; the CLI maps it to stderr lines and a progress bar. */
export interface GetReporter {
  /** A `securestream: …` line on stderr. */
  info: (line: string) => void;
  /** The batch begins: this many files. */
  start: (files: number) => void;
  /** A response announced this many more bytes to come. */
  announce: (bytes: number) => void;
  /**
   * Runs `write`, which prints whole lines to the terminal (a digest line on stdout, an error
   * on stderr), with the progress bar out of their way.
   */
  above: (write: () => void) => void;
  /** This many more bytes arrived. */
  progress: (delta: number) => void;
  /** One more file is done (stored or failed). */
  fileDone: () => void;
  stop: () => void;
}

export interface GetOutcome extends BatchOutcome {
  /** One plain name: its failure is the command's, as before batches existed. */
  single: boolean;
  /** Names (and patterns) that failed before any transfer: patterns that matched nothing. */
  unresolved: { name: string; error: unknown }[];
}

/**
 * Runs the whole command. `stored` reports each file as soon as it is synced and in place;
 * `failed` each file that failed (the run goes on). With one plain name, its failure is
 * thrown instead.
 */
export async function runGet(
  opts: GetOptions,
  report: GetReporter,
  hooks: {
    stored: (r: FetchResult) => void;
    failed: (name: string, e: unknown) => void;
    stdin: () => Promise<Buffer>;
  },
): Promise<GetOutcome> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'client' });
  const listed = opts.from === undefined ? [] : await readNameList(opts.from, hooks.stdin);
  const asked = [...opts.names, ...listed];
  const patterns = new Set(opts.glob ? asked.filter(isPattern) : []);
  const single = asked.length === 1 && patterns.size === 0 && opts.from === undefined;
  const first = asked[0];
  let output: Output | undefined;
  let folder: string | undefined;
  if (single && first !== undefined) {
    output = await resolveOutput(first, opts.out);
    if (output.kind === 'file') {
      checkNameFits(output.path);
      await probeWritable(dirname(output.path), opts.signal, output.path);
    }
  } else {
    folder = await outputFolder(opts.out);
    await probeWritable(folder, opts.signal);
  }
  if (patterns.size > 0 && opts.protocol === '1') {
    throw new UsageError(
      `patterns need the server's listing, which --protocol 1 does not offer: ${[...patterns][0] ?? ''}`,
    );
  }

  // A device or FIFO is opened before dialling, as a file's folder is probed: a FIFO waits
  // here for its reader, not with a connection idling towards the server's request timeout.
  const opened: OutputFile | undefined =
    output?.kind === 'special'
      ? await openSpecial(output.path, output.special, { signal: opts.signal })
      : undefined;
  const remote = await Remote.open({
    host: opts.host,
    port: opts.port,
    pem: material,
    protocol: wireFor(opts, single),
    waitForServer: opts.waitForServer,
    signal: opts.signal,
    onRetry: (e, ms) => {
      if (opts.verbose) report.info(`${(e as Error).message}; retrying in ${ms} ms`);
    },
  }).catch(async (e: unknown) => {
    await opened?.abort();
    throw e;
  });
  try {
    if (opts.verbose) {
      const { protocol, cipher } = remote.session;
      report.info(
        `connected to ${formatHostPort(opts.host, opts.port)} with ${protocol} ${cipher} as ${material.certInfo.subject}; ${remote.wire === 'http' ? 'HTTP/1.1' : 'line protocol v1'}`,
      );
    }
    const unresolved: GetOutcome['unresolved'] = [];
    const jobs: FetchJob[] = [];
    if (output && first !== undefined) {
      jobs.push({ name: first, output, ...(opened ? { file: opened } : {}) });
    } else {
      const wanted: Wanted[] = [];
      for (const name of asked) {
        if (!patterns.has(name)) {
          wanted.push({ name, rel: posix.basename(name) });
          continue;
        }
        if (remote.wire !== 'http') {
          throw new SecureStreamError(
            'protocol',
            `the server speaks only the line protocol, which has no listing: cannot resolve "${name}"`,
            'name the files one by one',
          );
        }
        try {
          wanted.push(...(await expandPattern(remote.http(0), name, opts.signal)));
        } catch (e) {
          if (opts.signal?.aborted) throw e;
          unresolved.push({ name, error: e });
          hooks.failed(name, e);
        }
      }
      jobs.push(...plan(wanted, folder ?? '.'));
    }
    report.start(jobs.length);
    const outcome = await runBatch({
      remote,
      jobs,
      parallel: opts.parallel,
      settings: {
        privateKey: material.privateKey,
        decrypt: opts.decrypt,
        keepPartial: opts.keepPartial,
        resume: opts.resume,
        retry: opts.retries > 0 ? networkFailures(opts.retries) : undefined,
        syncFolder: single,
        verbose: opts.verbose,
        signal: opts.signal,
        note: report.info,
        progress: report.progress,
        announce: report.announce,
      },
      onStored: (r) => {
        report.fileDone();
        report.above(() => {
          hooks.stored(r);
        });
      },
      onFailed: (job, e) => {
        report.fileDone();
        if (!single)
          report.above(() => {
            hooks.failed(job.name, e);
          });
      },
    });
    const failure = outcome.failed[0];
    if (single && failure) throw failure.error;
    return { ...outcome, single, unresolved };
  } finally {
    report.stop();
    await opened?.abort(); // nothing after its commit; closes it when no fetch took it over
    await remote.close();
  }
}

/**
 * What to offer the server. HTTP/1.1 when the run needs it: several names (kept-alive
 * connections, the listing for patterns) or resuming (`--continue`, `--keep-partial`,
 * `--retries`: ranges and entity tags). One plain name otherwise takes the line protocol:
 * one request needs no keep-alive, and a file the server has not hashed yet streams at once
 * with its digest in the trailer, where HTTP first reads the whole file for its ETag and
 * Repr-Digest (docs/PROTOCOL.md §7.3).
 */
export function wireFor(opts: GetOptions, single: boolean): GetOptions['protocol'] {
  if (opts.protocol !== 'auto') return opts.protocol;
  const resumes = opts.resume || opts.keepPartial || opts.retries > 0;
  return single && !resumes ? '1' : 'auto';
}

/**
 * The jobs for what was asked, each to `folder/rel`. Two names that would be stored at the
 * same path are a usage error, before anything is fetched; a name asked twice is fetched once.
 */
function plan(wanted: Wanted[], folder: string): FetchJob[] {
  const byPath = new Map<string, Wanted>();
  const jobs: FetchJob[] = [];
  for (const w of wanted) {
    const seen = byPath.get(w.rel);
    if (seen) {
      if (seen.name === w.name) continue;
      throw new UsageError(
        `"${seen.name}" and "${w.name}" would both be stored as "${posix.join(folder, w.rel)}"`,
        'fetch them in separate runs with different --out folders',
      );
    }
    byPath.set(w.rel, w);
    jobs.push({ name: w.name, output: inFolder(folder, w.rel) });
  }
  return jobs;
}

/** `--out` for several names: an existing folder (default: here). */
async function outputFolder(out: string | undefined): Promise<string> {
  const dir = out ?? '.';
  const st = await stat(dir).catch((e: unknown) => {
    throw missingFolder(dir, e);
  });
  if (!st.isDirectory()) {
    throw new UsageError(
      `--out "${dir}" is a file; with several names --out names a folder`,
      'choose an existing folder',
    );
  }
  return dir;
}

/**
 * Creates and removes a temporary file in `folder`: a missing or read-only output folder
 * fails here, before anything is dialled.
 */
async function probeWritable(
  folder: string,
  signal: AbortSignal | undefined,
  output = folder,
): Promise<void> {
  let f: AtomicFile;
  try {
    f = await AtomicFile.create(join(folder, '.securestream-probe'), { signal });
  } catch (e) {
    // Said of the output asked for, not of the probe's name.
    throw e instanceof SecureStreamError && e.cause !== undefined
      ? outputError(e.cause, output)
      : e;
  }
  await f.abort();
}
