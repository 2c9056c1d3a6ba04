#!/usr/bin/env node
/**
 * The entry point; nothing imports it. It turns on node's compile cache (compilecache.ts)
 * before anything else is loaded, then runs the program as bundled by esbuild into
 * dist/bundle/ (scripts/bundle.ts, part of every build): a few files load much faster than
 * the ~200 modules of the tsc output (docs/PERFORMANCE.md, "Where securestream's time goes",
 * Start-up of `get`). In a checkout, a bundle older than the last `tsc` run is refused rather
 * than run as stale code.
 */
import { statSync } from 'node:fs';
import { startCompileCache } from './compilecache.js';
import type * as Program from './program.js';

startCompileCache();
const bundled = new URL('../bundle/program.js', import.meta.url);
const fail = (why: string): void => {
  process.stderr.write(`securestream: error: ${why}\nsecurestream: hint: run npm run build\n`);
  process.exitCode = 1;
};
if (bundleOlderThanTsc(bundled)) {
  fail(`${bundled.pathname} is older than the last tsc run: it would run the code from before`);
} else {
  (import(bundled.href) as Promise<typeof Program>).then(
    (program) => {
      program.run();
    },
    (e: unknown) => {
      fail(`cannot load ${bundled.pathname} (${e instanceof Error ? e.message : String(e)})`);
    },
  );
}

/**
 * In a checkout: `tsc` (tsconfig.json) rewrote its build info (dist/.tsbuildinfo, written only
 * when it emits) after the bundle was made, so the bundle misses what tsc compiled. False in
 * an installed package, which has no build info, and when either file cannot be read.
 */
function bundleOlderThanTsc(bundle: URL): boolean {
  try {
    const info = statSync(new URL('../.tsbuildinfo', import.meta.url), { throwIfNoEntry: false });
    const made = statSync(bundle, { throwIfNoEntry: false });
    return info !== undefined && made !== undefined && info.mtimeMs > made.mtimeMs;
  } catch {
    return false;
  }
}
