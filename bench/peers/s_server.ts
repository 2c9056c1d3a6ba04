/**
 * `openssl s_server -WWW`: serves files from its working folder over HTTP/1.0, one connection
 * at a time, mutual TLS 1.2 with the same suite (`-Verify 1` requires a client certificate).
 */
import { createInterface } from 'node:readline';
import { TOOLS } from '../env.js';
import { freePort, start, stop } from '../procs.js';
import { SUITE, curlGet } from './curl.js';
import type { Command, PeerContext, Server } from './types.js';

export async function startSServer(ctx: PeerContext): Promise<Server> {
  const port = await freePort();
  const proc = start(
    TOOLS.openssl.path,
    [
      's_server',
      '-WWW',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      ctx.pki.serverCert,
      '-key',
      ctx.pki.serverKey,
      '-CAfile',
      ctx.pki.ca,
      '-Verify',
      '1',
      '-tls1_2',
      '-cipher',
      SUITE,
      '-no_ticket',
    ],
    { cwd: ctx.root, stdout: 'pipe' },
  );
  const out = proc.child.stdout;
  if (!out) throw new Error('s_server: no stdout');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('openssl s_server did not print ACCEPT within 10 s'));
    }, 10_000);
    void proc.exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`openssl s_server exited (${c})`));
    });
    // Keep reading so a chatty s_server never blocks on a full pipe.
    createInterface({ input: out }).on('line', (line) => {
      if (line.startsWith('ACCEPT')) {
        clearTimeout(timer);
        resolve();
      }
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

export function sServerGet(ctx: PeerContext, port: number, name: string, out: string): Command {
  return curlGet(ctx.pki, port, name, out);
}
