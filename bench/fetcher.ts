/**
 * Several downloads at once in one process, each through `runGet` (the `get` command without
 * argv parsing and without a node start of its own). Case 4 uses it to put N concurrent
 * connections on the server without paying N node start-ups on a small machine.
 * `node dist/bench/fetcher.js PORT PKI_DIR NAME OUT_PREFIX COUNT`; prints one
 * `sha256  path` line per copy, exits 1 if any download failed.
 */
import { runGet, resultLine, type GetReporter } from '../src/commands/get.js';
import { pkiPaths } from '../src/pki/folder.js';

const [port, pki, name, prefix, count] = process.argv.slice(2);
if (!port || !pki || !name || !prefix || !count) {
  process.stderr.write('usage: fetcher.js PORT PKI_DIR NAME OUT_PREFIX COUNT\n');
  process.exit(2);
}
const quiet: GetReporter = {
  info: () => undefined,
  start: () => undefined,
  progress: () => undefined,
  stop: () => undefined,
};
const results = await Promise.allSettled(
  Array.from({ length: Number(count) }, (_, i) =>
    runGet(
      {
        name,
        host: '127.0.0.1',
        port: Number(port),
        out: `${prefix}-${i}.copy`,
        material: pkiPaths(pki, 'client'),
        verbose: false,
        decrypt: false,
      },
      quiet,
    ),
  ),
);
for (const r of results) {
  if (r.status === 'fulfilled') process.stdout.write(`${resultLine(r.value)}\n`);
  else {
    process.stderr.write(
      `fetcher: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}\n`,
    );
    process.exitCode = 1;
  }
}
