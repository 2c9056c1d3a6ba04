/**
 * Several downloads at once in one process, each through `runGet` (the `get` command without
 * argv parsing and without a node start of its own). Case 4 uses it to put N concurrent
 * connections on the server without paying N node start-ups on a small machine.
 * `node dist/bench/fetcher.js PORT PKI_DIR NAME OUT_PREFIX COUNT`; prints one
 * `sha256  path` line per copy, exits 1 if any download failed.
 */
import { runGet } from '../src/commands/get.js';
import { sha256sumLine } from '../src/digest.js';
import { pkiPaths } from '../src/pki/paths.js';
import { plainReporter } from '../src/progress.js';

const [port, pki, name, prefix, count] = process.argv.slice(2);
if (!port || !pki || !name || !prefix || !count) {
  process.stderr.write('usage: fetcher.js PORT PKI_DIR NAME OUT_PREFIX COUNT\n');
  process.exit(2);
}
const nothing = (): void => undefined;
const quiet = plainReporter(nothing);
const results = await Promise.allSettled(
  Array.from({ length: Number(count) }, (_, i) =>
    runGet(
      {
        names: [name],
        host: '127.0.0.1',
        port: Number(port),
        out: `${prefix}-${i}.copy`,
        material: pkiPaths(pki, 'client'),
        verbose: false,
        decrypt: false,
        parallel: 1,
        resume: false,
        keepPartial: false,
        retries: 0,
        protocol: 'auto',
        glob: false,
        waitForServer: false,
      },
      quiet,
      {
        stored: nothing,
        failed: nothing,
        stdin: () => Promise.resolve(Buffer.alloc(0)),
      },
    ),
  ),
);
for (const r of results) {
  const stored = r.status === 'fulfilled' ? r.value.stored[0] : undefined;
  if (stored) process.stdout.write(`${sha256sumLine(stored.sha256, stored.path)}\n`);
  else {
    const why: unknown = r.status === 'rejected' ? r.reason : 'not stored';
    process.stderr.write(`fetcher: ${why instanceof Error ? why.message : String(why)}\n`);
    process.exitCode = 1;
  }
}
