/** securestream itself: `serve` on 127.0.0.1 (port 0, read from its banner) and `get`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath } from '../paths.js';
import { start, stop } from '../procs.js';
import type { Command, PeerContext, Server } from './types.js';

export interface ServeFlags {
  encrypt?: boolean;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Log file name in ctx.tmp (default serve.log). */
  log?: string;
}

/** Starts `securestream serve` and resolves once it prints the port it listens on. */
export async function startServe(ctx: PeerContext, flags: ServeFlags = {}): Promise<Server> {
  const log = join(ctx.tmp, flags.log ?? 'serve.log');
  const proc = start(
    process.execPath,
    [
      ...(flags.nodeArgs ?? []),
      cliPath(),
      'serve',
      '--root',
      ctx.root,
      '--pki',
      ctx.pki.dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--log-format',
      'json',
      ...(flags.encrypt ? ['--encrypt'] : []),
    ],
    { stdout: 'pipe', stderr: log },
  );
  const out = proc.child.stdout;
  if (!out) throw new Error('serve: no stdout');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`securestream serve printed no banner within 20 s (see ${log})`));
    }, 20_000);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      reject(new Error(`securestream serve exited (${code}) before listening: ${tail}`));
    });
    createInterface({ input: out }).on('line', (line) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    proc,
    port,
    log,
    async stop() {
      await stop(proc, 'SIGTERM', 5000);
    },
  };
}

export interface GetFlags {
  decrypt?: boolean;
  nodeArgs?: string[];
}

/** `securestream get NAME --out OUT` against a running server. */
export function getCmd(
  ctx: PeerContext,
  port: number,
  name: string,
  out: string,
  flags: GetFlags = {},
): Command {
  return {
    cmd: process.execPath,
    args: [
      ...(flags.nodeArgs ?? []),
      cliPath(),
      'get',
      name,
      '--server',
      `127.0.0.1:${port}`,
      '--pki',
      ctx.pki.dir,
      '--out',
      out,
      '--quiet',
      ...(flags.decrypt ? ['--decrypt'] : []),
    ],
  };
}
