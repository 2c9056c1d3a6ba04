/** `securestream get`: wiring from validated settings to one verified download. */
import { posix } from 'node:path';
import type { MaterialPaths } from '../config.js';
import { sha256sumLine } from '../digest.js';
import { loadTlsMaterial } from '../pki/load.js';
import { fetchFile, type FetchResult } from '../transport/client.js';
import { sstreamDecoder } from '../transport/sstream.js';

export interface GetOptions {
  name: string;
  host: string;
  port: number;
  out?: string | undefined;
  material: MaterialPaths;
  verbose: boolean;
  /** Store the plaintext of an sstream-v1 body instead of the ciphertext. */
  decrypt: boolean;
  signal?: AbortSignal;
}

/** What the command reports while it runs; the CLI maps it to stderr lines and a progress bar. */
export interface GetReporter {
  info(line: string): void;
  start(total: number): void;
  progress(received: number): void;
  stop(): void;
}

/** Default output: the basename of NAME in the current folder. */
export function defaultOutPath(name: string): string {
  return posix.basename(name);
}

export async function runGet(opts: GetOptions, report: GetReporter): Promise<FetchResult> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'client' });
  const outPath = opts.out ?? defaultOutPath(opts.name);
  try {
    return await fetchFile({
      host: opts.host,
      port: opts.port,
      pem: material,
      name: opts.name,
      outPath,
      ...(opts.signal ? { signal: opts.signal } : {}),
      // An encrypted body is stored as NAME.sst unless --out names the file.
      ...(opts.out === undefined ? { encryptedOutPath: `${outPath}.sst` } : {}),
      decoderFor: (mode) =>
        mode === 'sstream-v1' ? sstreamDecoder(material.privateKey, opts.decrypt) : undefined,
      onSecure: ({ protocol, cipher }) => {
        if (opts.verbose) {
          report.info(
            `connected to ${opts.host}:${opts.port} with ${protocol} ${cipher} as ${material.certInfo.subject}`,
          );
        }
      },
      onHeader: (length, mode) => {
        if (opts.verbose) report.info(`receiving ${length} bytes, mode ${mode}`);
        report.start(length);
      },
      onProgress: (n) => {
        report.progress(n);
      },
    });
  } finally {
    report.stop();
  }
}

export function resultLine(r: FetchResult): string {
  return sha256sumLine(r.sha256, r.path);
}
