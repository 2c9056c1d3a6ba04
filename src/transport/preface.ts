/**
 * What comes before TLS on an accepted connection. With `serve --proxy-protocol` every
 * connection must come from a trusted proxy (`--trusted-proxy CIDR`) and begin with a PROXY
 * header (v1 or v2), whose client address then stands for the connection in logs, limits and
 * rules; anyone else is refused before a byte is read. Without the flag, a connection that
 * begins with a PROXY header is a bad request: a balancer configured to send one is talking
 * to a server not told to expect it. Everything after the header is handed back for TLS.
 */
import { BlockList, type Socket } from 'node:net';
import { SecureStreamError } from '../errors.js';
import { unmapIPv4 } from './address.js';
import {
  ProxyHeaderReader,
  startsWithProxyHeader,
  type ProxyEvent,
  type ProxyHeader,
} from './proxy.js';

/** One `--trusted-proxy` network: an address and a prefix length (a host is /32 or /128). */
/** A network whose PROXY protocol headers are believed: `address`/`prefix` in CIDR terms. */
export interface TrustedNetwork {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Whether a PROXY protocol header is expected before TLS, and from which networks. */
export type PrefacePolicy =
  { proxyProtocol: false } | { proxyProtocol: true; trustedProxies: readonly TrustedNetwork[] };

/** The default: TLS from the first byte, no PROXY header. */
export const NO_PROXY_PROTOCOL: PrefacePolicy = { proxyProtocol: false };

/** An address and port as logs show them. */
export interface Endpoint {
  address: string;
  port: number;
}

/** What the bytes before TLS decided. */
export type PrefaceResult =
  /**
   * TLS may start. `client` is the address the PROXY header carried (absent when there was
   * no header, or one that says to use the connection's own endpoints, such as a LOCAL health
   * check); `proxy` the balancer the connection came from.
   */
  | { ok: true; client?: Endpoint; proxy?: Endpoint; header?: ProxyHeader }
  | { ok: false; outcome: 'bad-request' | 'untrusted-proxy'; error: SecureStreamError };

/** Reads the preface of connections under one policy. */
export class PrefaceReader {
  private readonly trusted: BlockList | undefined;

  constructor(readonly policy: PrefacePolicy) {
    if (policy.proxyProtocol) {
      this.trusted = new BlockList();
      for (const n of policy.trustedProxies) this.trusted.addSubnet(n.address, n.prefix, n.family);
    }
  }

  /** Whether `address` (as a socket reports it) is a trusted proxy. */
  isTrusted(address: string): boolean {
    if (!this.trusted) return false;
    const a = unmapIPv4(address);
    return this.trusted.check(a, a.includes(':') ? 'ipv6' : 'ipv4');
  }

  /**
   * Reads what comes before TLS and calls `done` once, leaving the socket paused with any
   * bytes after the header unread, ready for TLS. On a refusal the caller closes the socket.
   * A socket that closes first leaves `done` uncalled (its close is the caller's business).
   */
  read(socket: Socket, done: (r: PrefaceResult) => void): void {
    if (this.policy.proxyProtocol) {
      if (!this.isTrusted(socket.remoteAddress ?? '')) {
        done({
          ok: false,
          outcome: 'untrusted-proxy',
          error: new SecureStreamError(
            'proxy-untrusted',
            'connection from an address outside --trusted-proxy, while --proxy-protocol requires a trusted proxy',
          ),
        });
        return;
      }
      const reader = new ProxyHeaderReader();
      consume(
        socket,
        (chunk) => (chunk ? reader.push(chunk) : reader.end()),
        (ev) => {
          done(fromEvent(ev, socket));
        },
      );
      return;
    }
    let seen: Buffer = Buffer.alloc(0);
    consume(
      socket,
      (chunk) => {
        if (!chunk) return { unshift: seen };
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        const proxy = startsWithProxyHeader(seen);
        return proxy === undefined ? undefined : proxy ? 'proxy' : { unshift: seen };
      },
      (r) => {
        done(
          r === 'proxy'
            ? {
                ok: false,
                outcome: 'bad-request',
                error: new SecureStreamError(
                  'proxy-header-unexpected',
                  'the connection began with a PROXY protocol header, but serve runs without --proxy-protocol',
                ),
              }
            : { ok: true },
        );
      },
    );
  }
}

type Decision = ProxyEvent | 'proxy' | { unshift: Buffer };

/**
 * Feeds the socket's bytes to `step` until it decides (`chunk` undefined: the peer ended its
 * side), then pauses the socket and puts back what TLS must read.
 */
function consume<D extends Decision>(
  socket: Socket,
  step: (chunk: Buffer | undefined) => D | undefined,
  decided: (d: D) => void,
): void {
  const finish = (d: D): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    const back =
      typeof d !== 'object'
        ? undefined
        : 'unshift' in d
          ? d.unshift
          : 'rest' in d
            ? d.rest
            : undefined;
    if (back && back.length > 0) socket.unshift(back);
    decided(d);
  };
  const onData = (chunk: Buffer): void => {
    const d = step(chunk);
    if (d !== undefined) finish(d);
  };
  const onEnd = (): void => {
    const d = step(undefined);
    if (d !== undefined) finish(d);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}

function fromEvent(ev: ProxyEvent, socket: Socket): PrefaceResult {
  if (ev.type === 'violation') return { ok: false, outcome: 'bad-request', error: ev.error };
  const proxy = { address: unmapIPv4(socket.remoteAddress ?? '?'), port: socket.remotePort ?? 0 };
  const { source } = ev.header;
  return source
    ? {
        ok: true,
        client: { address: unmapIPv4(source.address), port: source.port },
        proxy,
        header: ev.header,
      }
    : { ok: true, proxy, header: ev.header };
}
