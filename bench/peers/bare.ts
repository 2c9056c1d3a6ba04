/** A bare node:tls server with securestream's TLS options (bench/bare-server.ts). */
import { createInterface } from 'node:readline';
import { barePath } from '../paths.js';
import { start, stop } from '../procs.js';
import type { PeerContext, Server } from './types.js';

export async function startBare(ctx: PeerContext): Promise<Server> {
  const proc = start(process.execPath, [barePath(), ctx.pki.dir], { stdout: 'pipe' });
  const out = proc.child.stdout;
  if (!out) throw new Error('bare server: no stdout');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('bare node:tls server printed no port within 20 s'));
    }, 20_000);
    void proc.exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`bare node:tls server exited (${c})`));
    });
    createInterface({ input: out }).once('line', (line) => {
      clearTimeout(timer);
      resolve(Number(line));
    });
  });
  return {
    proc,
    port,
    async stop() {
      await stop(proc, 'SIGTERM', 3000);
    },
  };
}
