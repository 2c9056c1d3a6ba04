#!/usr/bin/env node
/**
 * The entry point; nothing imports it. It turns on node's compile cache (compilecache.ts)
 * before anything else is loaded, then runs the program as bundled by esbuild into
 * dist/bundle/ (scripts/bundle.ts, part of every build): a few files load much faster than
 * the ~200 modules of the tsc output (docs/PERFORMANCE.md, "Start-up").
 */
import { startCompileCache } from './compilecache.js';
import type * as Program from './program.js';

startCompileCache();
const bundled = new URL('../bundle/program.js', import.meta.url);
(import(bundled.href) as Promise<typeof Program>).then(
  (program) => {
    program.run();
  },
  (e: unknown) => {
    process.stderr.write(
      `securestream: error: cannot load ${bundled.pathname} (${e instanceof Error ? e.message : String(e)}): run npm run build\n`,
    );
    process.exitCode = 1;
  },
);
