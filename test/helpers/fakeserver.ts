/**
 * A scripted, misbehaving securestream server for client tests: real mutual TLS on
 * 127.0.0.1 with the fixture certificates, then whatever bytes the script says, ended the way
 * the script says. Our own server never sends these; a broken or hostile one might.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { scriptBytes } from './faults.js';
import type { TestPki } from './pki.js';

/** How the fake server ends a connection. */
export type FakeEnd =
  /** TLS close_notify, then TCP FIN: a clean close. */
  | 'close-notify'
  /** TCP FIN without close_notify: what a truncation attacker or a killed process produces. */
  | 'fin'
  /** TCP RST: the connection is torn down. */
  | 'reset';

/** What to send after reading the request line, in order. */
export interface FakeScript {
  /** Sent first, verbatim (include the LF): e.g. 'OK 1000 plain\n' or garbage. */
  header: string | Buffer;
  body?: Buffer;
  /** Sent after the body, verbatim; absent: no trailer. */
  trailer?: string | Buffer;
  /** Sent after the trailer. */
  extra?: Buffer;
  /** Send only this many bytes of `body`, then end the connection (no trailer, no extra). */
  closeAfterBodyBytes?: number;
  /** Default 'close-notify'. */
  end?: FakeEnd;
}

export interface FakeServer {
  port: number;
  /** Request lines received so far, LF included, as latin1. */
  requests(): string[];
  close(): Promise<void>;
}

/**
 * TLS options of a test peer that serves `pki.server` and requires a client certificate from
 * `pki.ca` (node:tls and node:https servers), with `alpn` offered when given.
 */
export function mutualTlsOptions(
  pki: TestPki,
  alpn?: string[],
): TlsOptions & { requestCert: true; rejectUnauthorized: true } {
  return {
    ca: readFileSync(pki.ca),
    cert: readFileSync(pki.server.cert),
    key: readFileSync(pki.server.key),
    requestCert: true,
    rejectUnauthorized: true,
    ...(alpn && { ALPNProtocols: alpn }),
  };
}

/** Listens on 127.0.0.1, port 0; resolves with the port chosen. */
export async function listenOnLoopback(server: NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Drops every connection of an HTTP(S) test peer and waits until it is closed. */
export async function closeHttpPeer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

/** Chooses the script per request (e.g. by name) or uses one script for all. */
export type ScriptFor = FakeScript | ((request: string) => FakeScript);

/**
 * Listens on 127.0.0.1 port 0 with `pki.server`, requiring a client certificate from `pki.ca`;
 * for each connection reads one line and plays the script.
 */
export async function startFakeServer(pki: TestPki, script: ScriptFor): Promise<FakeServer> {
  const raws = new Map<number, Socket>(); // remote port → the TCP socket under the TLS one
  const open = new Set<Socket>();
  const requests: string[] = [];
  const server = createServer(mutualTlsOptions(pki));
  server.on('connection', (raw: Socket) => {
    open.add(raw);
    if (raw.remotePort !== undefined) raws.set(raw.remotePort, raw);
    raw.on('error', () => undefined);
    raw.once('close', () => {
      open.delete(raw);
      if (raw.remotePort !== undefined) raws.delete(raw.remotePort);
    });
  });
  server.on('tlsClientError', () => undefined);
  server.on('secureConnection', (tls: TLSSocket) => {
    tls.on('error', () => undefined);
    const raw = tls.remotePort === undefined ? undefined : raws.get(tls.remotePort);
    let line = Buffer.alloc(0);
    const onData = (b: Buffer): void => {
      line = Buffer.concat([line, b]);
      const lf = line.indexOf(0x0a);
      if (lf < 0) return;
      tls.off('data', onData);
      const request = line.subarray(0, lf + 1).toString('latin1');
      requests.push(request);
      void play(tls, raw, typeof script === 'function' ? script(request) : script);
    };
    tls.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake server: no port');
  return {
    port: address.port,
    requests: () => [...requests],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function play(tls: TLSSocket, raw: Socket | undefined, s: FakeScript): Promise<void> {
  const bytes = scriptBytes(s);
  const end = s.end ?? 'close-notify';
  if (end === 'close-notify') {
    tls.end(bytes);
    return;
  }
  // Let every record reach the kernel first, then end below TLS, so close_notify never goes out.
  await new Promise<void>((resolve) => {
    tls.write(bytes, () => {
      resolve();
    });
  });
  if (!raw) {
    tls.destroy();
    return;
  }
  if (end === 'reset') raw.resetAndDestroy();
  else raw.destroy();
}
