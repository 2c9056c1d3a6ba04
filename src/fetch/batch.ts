/**
 * Many files in one run: a queue of jobs and N transfers at a time, each on its own
 * connection (HTTP/1.1 keep-alive: one connection serves request after request; the line
 * protocol: one connection per file). Every file is synced and renamed into place before its
 * result is reported; the folders that received files are synced once, at the end of the
 * batch, instead of once per file. A failure is recorded and the batch goes on; an
 * interruption stops it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { outputError, syncDir } from '../atomic.js';
import {
  InterruptedError,
  exitClassOf,
  EXIT,
  isSecureStreamError,
  type ExitClass,
} from '../errors.js';
import { fetchOverHttp } from './httpfile.js';
import type { FetchJob, FetchResult, FetchSettings, Fetched } from './job.js';
import { fetchOverLine } from './linefile.js';
import type { Remote } from './remote.js';

export interface BatchOptions {
  remote: Remote;
  jobs: readonly FetchJob[];
  /** Transfers at a time (`-j`). */
  parallel: number;
  settings: FetchSettings;
  /** A file is stored (synced and renamed into place). */
  onStored(r: FetchResult): void;
  /** A file failed; the batch goes on. */
  onFailed(job: FetchJob, e: unknown): void;
}

export interface BatchOutcome {
  stored: FetchResult[];
  failed: { job: FetchJob; error: unknown }[];
  /** Bytes that came over the network. */
  received: number;
  ms: number;
}

/**
 * Files whose bytes are in but whose sync and rename are still running, at most: a transfer
 * does not wait for the disk before its connection asks for the next file.
 */
export const MAX_PENDING_COMMITS = 64;

export async function runBatch(o: BatchOptions): Promise<BatchOutcome> {
  const t0 = Date.now();
  const out: BatchOutcome = { stored: [], failed: [], received: 0, ms: 0 };
  const folders = new FolderSyncs();
  const pending = new Set<Promise<void>>();
  let next = 0;
  const failed = (job: FetchJob, e: unknown): void => {
    if (o.settings.signal?.aborted) throw o.settings.signal.reason;
    out.failed.push({ job, error: e });
    o.onFailed(job, e);
  };
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      o.settings.signal?.throwIfAborted();
      while (pending.size >= MAX_PENDING_COMMITS) await Promise.race(pending);
      const job = o.jobs[next++];
      if (!job) return;
      let fetched: Fetched;
      try {
        if (job.output.kind === 'file') await folders.ensure(dirname(job.output.path));
        fetched =
          o.remote.wire === 'http'
            ? await fetchOverHttp(o.remote.http(w), job, o.settings)
            : await fetchOverLine(() => o.remote.line(), job, o.settings);
      } catch (e) {
        failed(job, e);
        continue;
      }
      const { result: r } = fetched;
      out.received += r.received;
      const done = fetched.committed.then(
        () => {
          if (r.path !== '-') folders.touched(dirname(r.path));
          out.stored.push(r);
          o.onStored(r);
        },
        (e: unknown) => {
          failed(job, e);
        },
      );
      pending.add(done);
      done.catch(() => undefined).finally(() => pending.delete(done));
    }
  };
  const n = Math.max(1, Math.min(o.parallel, o.jobs.length));
  try {
    await Promise.all(Array.from({ length: n }, (_, w) => worker(w)));
  } finally {
    await Promise.allSettled(pending);
    await folders.syncAll();
    out.ms = Date.now() - t0;
  }
  o.settings.signal?.throwIfAborted();
  return out;
}

/**
 * The folders a batch wrote into, synced once each at the end: the parent of every file
 * renamed into place, and for each folder the batch created, the folder above it.
 */
class FolderSyncs {
  private readonly dirty = new Set<string>();
  private readonly made = new Map<string, Promise<void>>();

  /** Creates `dir` (and its parents) if missing; what it creates is synced at the end. */
  ensure(dir: string): Promise<void> {
    let p = this.made.get(dir);
    if (!p) {
      p = mkdir(dir, { recursive: true }).then(
        (first) => {
          if (first === undefined) return;
          // Every folder from the first one created down to `dir` is a new entry in its parent.
          for (let d = dir; ; d = dirname(d)) {
            this.dirty.add(dirname(d));
            if (d === first || relative(first, d).startsWith(`..${sep}`)) break;
          }
        },
        (e: unknown) => {
          throw outputError(e, dir);
        },
      );
      this.made.set(dir, p);
    }
    return p;
  }

  touched(dir: string): void {
    this.dirty.add(dir);
  }

  async syncAll(): Promise<void> {
    await Promise.all([...this.dirty].map((d) => syncDir(d)));
    this.dirty.clear();
  }
}

/**
 * The exit status of a batch with failures (README "Exit codes"): the class of the most
 * telling failure, in the order integrity (a copy could not be trusted), tls (no connection),
 * refused (a name the server would not serve), failure (local files). An interruption is its
 * own status.
 */
const PRECEDENCE: readonly ExitClass[] = [
  'interrupted',
  'integrity',
  'tls',
  'refused',
  'usage',
  'failure',
];

export function batchExitCode(errors: readonly unknown[]): number {
  if (errors.length === 0) return EXIT.ok;
  const interrupted = errors.find((e) => e instanceof InterruptedError);
  if (interrupted instanceof InterruptedError) return interrupted.exitCode;
  const classes = new Set(
    errors.map((e) => (isSecureStreamError(e) ? exitClassOf(e.code) : 'failure')),
  );
  const worst = PRECEDENCE.find((c) => classes.has(c)) ?? 'failure';
  return EXIT[worst];
}
