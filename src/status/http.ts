/**
 * The status endpoint (`serve --status-listen ADDR:PORT`): plain HTTP/1.1 for load balancers,
 * orchestrators and Prometheus, on its own address (loopback unless told otherwise).
 * `/healthz` is 200 while the server accepts clients and 503 from the moment a graceful
 * shutdown begins, so a balancer stops sending new clients while transfers drain; `/metrics`
 * is the Prometheus text format. Nothing else is served, and nothing here names a client,
 * a file or an address.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecureStreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatHostPort } from '../transport/address.js';

export interface StatusSource {
  /** True while serving; false once a graceful shutdown has begun. */
  healthy(): boolean;
  /** The metrics in the Prometheus text format, with their content type. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface StatusServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/** A scrape that has not answered by then is cut: the next one will come. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startStatusServer(
  at: { host: string; port: number },
  source: StatusSource,
  log: Logger,
): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(405, 'method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      if (source.healthy()) send(200, 'ok\n');
      else send(503, 'draining\n');
      return;
    }
    if (path === '/metrics') {
      source.metrics().then(
        (m) => {
          send(200, m.body, m.contentType);
        },
        (e: unknown) => {
          log.error({ reason: e instanceof Error ? e.message : String(e) }, 'metrics failed');
          send(500, 'metrics unavailable\n');
        },
      );
      return;
    }
    send(404, 'not found: try /healthz or /metrics\n');
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    const where = formatHostPort(at.host, at.port);
    throw new SecureStreamError(
      'listen-failed',
      `cannot listen on --status-listen ${where}: ${(e as Error).message}`,
      'choose another address or port for --status-listen',
    );
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
