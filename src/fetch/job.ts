/**
 * One file to fetch, how, and what came of it: the types the wires (httpfile.ts, linefile.ts)
 * and the batch (batch.ts) share.
 */
import type { KeyObject } from 'node:crypto';
import type { Mode } from '../protocol.js';
import type { RetryPolicy } from '../retry.js';
import type { OutputFile } from '../specialfile.js';
import type { Output } from './store.js';

export interface FetchJob {
  /** The name asked of the server (checked by `checkName`). */
  name: string;
  output: Output;
  /** A `special` output already opened (before dialling); the fetch commits or aborts it. */
  file?: OutputFile;
}

/** Settings shared by every file of a run. */
export interface FetchSettings {
  /** The client key, for sstream-v1 bodies. */
  privateKey: KeyObject;
  /** Store the plaintext of an sstream-v1 body instead of the ciphertext. */
  decrypt: boolean;
  /** Keep what arrived when a download fails or is interrupted (`--keep-partial`, `--continue`). */
  keepPartial: boolean;
  /** Resume from a kept partial download (`--continue`). */
  resume: boolean;
  /** `--retries N`; undefined retries nothing. */
  retry: RetryPolicy | undefined;
  /** Say what each response announces (`--verbose`). */
  verbose: boolean;
  /** False in a batch: folders are synced once at its end (FolderSyncs). */
  syncFolder: boolean;
  signal?: AbortSignal | undefined;
  /** A line for stderr (`starting over: …`, `kept … for --continue`). */
  note: (line: string) => void;
  /** Body bytes arrived (an increment), for progress. */
  progress: (delta: number) => void;
  /** A response announced a body of this many bytes still to come. */
  announce: (bytes: number) => void;
}

/** One verified download. */
export interface FetchResult {
  name: string;
  /** Where the bytes were stored, or `-` for standard output. */
  path: string;
  mode: Mode;
  /** Bytes of the object (the whole file, ciphertext in sstream-v1). */
  size: number;
  /** Bytes that came over the network in this run (less than `size` after a resume). */
  received: number;
  /** SHA-256 of the bytes stored (the plaintext when decrypted). */
  sha256: string;
  decrypted: boolean;
  protocol: string;
  cipher: string;
  /** Where a resumed download picked up, in bytes. */
  resumedAt?: number;
}

/**
 * A download whose bytes are all in and verified: `committed` settles once the file is synced
 * and renamed into place (at once for standard output). A batch moves on to its next transfer
 * meanwhile; the result is reported only after `committed`.
 */
export interface Fetched {
  result: FetchResult;
  committed: Promise<void>;
}
