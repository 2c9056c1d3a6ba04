/** Addresses as messages and logs show them. */
import { isIP } from 'node:net';

/** `host:port`, an IPv6 address in brackets (`[::1]:8443`, RFC 3986 §3.2.2). */
export function formatHostPort(host: string, port: number | string): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * A peer's address as logs show it: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a
 * dual-stack listener reports for an IPv4 client; RFC 4291 §2.5.5.2) as the IPv4 address.
 */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m?.[1] ?? address;
}
