/**
 * nginx with one worker, mutual TLS 1.2 with the same suite and certificates, access log off,
 * sendfile off (with TLS in user space nginx cannot use sendfile anyway), run as root from a
 * config in a temporary folder, in the foreground.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS } from '../env.js';
import { freePort, start, stop, tempDir, waitForPort } from '../procs.js';
import { SUITE, curlGet } from './curl.js';
import type { Command, PeerContext, Server } from './types.js';

/** Settings that differ from nginx defaults, reported with the results. */
export const NGINX_NOTES =
  'worker_processes 1, sendfile off, access_log off, ssl_session_cache off, ssl_session_tickets off, default buffers (output_buffers 2 32k, ssl_buffer_size 16k)';

export async function startNginx(ctx: PeerContext): Promise<Server> {
  const dir = tempDir(ctx.tmp, 'nginx-');
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile off;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${ctx.pki.serverCert};
    ssl_certificate_key ${ctx.pki.serverKey};
    ssl_client_certificate ${ctx.pki.ca};
    ssl_verify_client on;
    ssl_protocols TLSv1.2;
    ssl_ciphers ${SUITE};
    ssl_prefer_server_ciphers on;
    ssl_session_cache off;
    ssl_session_tickets off;
    root ${ctx.root};
  }
}
`,
  );
  const proc = start(
    TOOLS.nginx.path,
    ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    { stderr: join(dir, 'stderr.log') },
  );
  await Promise.race([
    waitForPort(port, 10_000, 'nginx'),
    proc.exited.then((c) => {
      throw new Error(`nginx exited (${c}); see ${dir}/error.log`);
    }),
  ]);
  return {
    proc,
    port,
    async stop() {
      await stop(proc, 'SIGQUIT', 5000);
    },
  };
}

export function nginxGet(ctx: PeerContext, port: number, name: string, out: string): Command {
  return curlGet(ctx.pki, port, name, out);
}
