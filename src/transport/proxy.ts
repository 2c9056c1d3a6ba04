/**
 * The PROXY protocol header that a load balancer (HAProxy's `send-proxy`, `send-proxy-v2`)
 * puts before the TLS bytes of a connection it relays, carrying the client's address:
 * version 1 (a text line) and version 2 (binary), as "The PROXY protocol, Versions 1 & 2"
 * (haproxy.org, doc/proxy-protocol.txt) defines them. Bytes in, one event out: a reader knows
 * nothing of sockets, so tests feed it byte by byte. What to trust is decided elsewhere
 * (preface.ts); this module only says what the bytes are.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { SecureStreamError } from '../errors.js';
import { crc32c } from './crc32c.js';

/** Longest version 1 line, CRLF included (spec §2.1: "PROXY TCP6 ffff:…:ffff … 65535 65535"). */
export const MAX_PROXY_V1_LINE = 107;
/**
 * Most bytes accepted after the 16-byte version 2 preamble: addresses (216 bytes for AF_UNIX)
 * plus TLVs. The length field allows 65535; nothing HAProxy sends comes near this.
 */
export const MAX_PROXY_V2_LENGTH = 2048;

/** spec §2.2: the twelve bytes every version 2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_PREAMBLE = 16;
/** spec §2.2.7: PP2_TYPE_CRC32C, a CRC-32C of the whole header with its own value zeroed. */
const PP2_TYPE_CRC32C = 0x03;

/** One end of a relayed connection, as a PROXY header gives it. */
export interface ProxyEndpoint {
  /** Text form: dotted quad or IPv6 as written by the sender (v1) or RFC 5952 (v2). */
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/**
 * A complete header. `source` and `destination` are present only for a relayed TCP
 * connection; without them (v2 LOCAL, v1 UNKNOWN, families a TCP server has no use for) the
 * spec says to use the connection's own endpoints.
 */
export interface ProxyHeader {
  version: 1 | 2;
  /** `local`: the proxy's own connection (its health checks); `proxy`: a relayed one. */
  command: 'proxy' | 'local';
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** Version 2 type-length-value fields, in order (spec §2.2.7). */
  tlvs: { type: number; value: Buffer }[];
  /** Bytes the header took on the wire. */
  length: number;
}

/** The error codes a PROXY header can be refused with. */
export type ProxyErrorCode = 'proxy-header-invalid' | 'proxy-header-too-long';

/** A header that breaks the spec; `code` is stable, the message says which rule. */
export type ProxyHeaderError = SecureStreamError & { code: ProxyErrorCode };

/** What the bytes before TLS complete: the header, or a violation of the spec. */
export type ProxyEvent =
  | {
      type: 'header';
      header: ProxyHeader;
      /** Bytes after the header: TLS begins here. */ rest: Buffer;
    }
  | { type: 'violation'; error: ProxyHeaderError };

/** Whether `buf` agrees with `sig` on their common prefix. */
function agrees(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

/**
 * Whether a connection's first bytes are a PROXY header (either version): `true`, `false`, or
 * undefined while the bytes so far could still be one (at most 11 of them).
 */
export function startsWithProxyHeader(buf: Buffer): boolean | undefined {
  if (buf.length === 0) return undefined;
  const v1 = agrees(buf, V1_SIGNATURE);
  const v2 = agrees(buf, PROXY_V2_SIGNATURE);
  if ((v1 && buf.length >= V1_SIGNATURE.length) || (v2 && buf.length >= PROXY_V2_SIGNATURE.length))
    return true;
  return v1 || v2 ? undefined : false;
}

/**
 * Reads one header from the start of a connection. `push` returns undefined while more bytes
 * are needed, then exactly one event; the bytes held never exceed the header caps.
 */
export class ProxyHeaderReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  push(chunk: Buffer): ProxyEvent | undefined {
    if (this.done) throw new Error('ProxyHeaderReader: push after the header was read');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const ev = this.step();
    if (ev) this.done = true;
    return ev;
  }

  /** The connection ended: a header that has not completed by now never will. */
  end(): ProxyEvent {
    this.done = true;
    return violation(
      'proxy-header-invalid',
      `the connection closed after ${this.buf.length} bytes, before a complete PROXY header`,
    );
  }

  private step(): ProxyEvent | undefined {
    const { buf } = this;
    const v2 = agrees(buf, PROXY_V2_SIGNATURE);
    if (!v2 && !agrees(buf, V1_SIGNATURE)) {
      return violation(
        'proxy-header-invalid',
        `the connection did not start with a PROXY protocol header (first byte 0x${(buf[0] as number).toString(16).padStart(2, '0')})`,
      );
    }
    return v2 ? this.stepV2() : this.stepV1();
  }

  private stepV1(): ProxyEvent | undefined {
    const { buf } = this;
    const limit = Math.min(buf.length, MAX_PROXY_V1_LINE);
    for (let i = 0; i < limit; i++) {
      const c = buf[i] as number;
      if (c === 0x0d) {
        if (i + 2 > MAX_PROXY_V1_LINE) break; // the CRLF itself would pass the cap
        if (i + 1 === buf.length) return undefined;
        if (buf[i + 1] !== 0x0a)
          return violation('proxy-header-invalid', 'CR not followed by LF in a PROXY v1 line');
        return parseV1(buf.toString('latin1', 0, i), buf.subarray(i + 2));
      }
      if (c < 0x20 || c > 0x7e)
        return violation(
          'proxy-header-invalid',
          `byte 0x${c.toString(16).padStart(2, '0')} in a PROXY v1 line`,
        );
    }
    if (buf.length < MAX_PROXY_V1_LINE) return undefined;
    return violation(
      'proxy-header-too-long',
      `no CRLF within ${MAX_PROXY_V1_LINE} bytes of a PROXY v1 line`,
    );
  }

  private stepV2(): ProxyEvent | undefined {
    const { buf } = this;
    if (buf.length < V2_PREAMBLE) return undefined;
    const verCmd = buf[12] as number;
    const famProto = buf[13] as number;
    const len = buf.readUInt16BE(14);
    if (verCmd >> 4 !== 2)
      return violation('proxy-header-invalid', `PROXY v2 header with version ${verCmd >> 4}`);
    const cmd = verCmd & 0x0f;
    if (cmd > 1) return violation('proxy-header-invalid', `PROXY v2 header with command ${cmd}`);
    const family = famProto >> 4;
    const transport = famProto & 0x0f;
    if (family > 3 || transport > 2)
      return violation(
        'proxy-header-invalid',
        `PROXY v2 header with family/protocol byte 0x${famProto.toString(16).padStart(2, '0')}`,
      );
    if (len > MAX_PROXY_V2_LENGTH)
      return violation(
        'proxy-header-too-long',
        `PROXY v2 header announces ${len} bytes, more than the ${MAX_PROXY_V2_LENGTH} accepted`,
      );
    if (buf.length < V2_PREAMBLE + len) return undefined;
    return parseV2(
      buf.subarray(0, V2_PREAMBLE + len),
      cmd === 1 ? 'proxy' : 'local',
      family,
      transport,
      buf.subarray(V2_PREAMBLE + len),
    );
  }
}

function violation(code: ProxyErrorCode, message: string): ProxyEvent {
  return { type: 'violation', error: new SecureStreamError(code, message) as ProxyHeaderError };
}

/** `PROXY TCP4|TCP6 SRC DST SPORT DPORT` or `PROXY UNKNOWN …` (spec §2.1), without the CRLF. */
function parseV1(line: string, rest: Buffer): ProxyEvent {
  const length = line.length + 2;
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') {
    // "the receiver must ignore anything presented before the CRLF"
    return { type: 'header', header: { version: 1, command: 'local', tlvs: [], length }, rest };
  }
  const [, proto, src, dst, sport, dport] = parts;
  if (parts.length !== 6 || (proto !== 'TCP4' && proto !== 'TCP6'))
    return violation('proxy-header-invalid', `malformed PROXY v1 line ${JSON.stringify(line)}`);
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6';
  const okAddr = family === 'IPv4' ? isIPv4 : isIPv6;
  const sp = parsePort(sport);
  const dp = parsePort(dport);
  if (!okAddr(src ?? '') || !okAddr(dst ?? '') || sp === undefined || dp === undefined)
    return violation('proxy-header-invalid', `malformed PROXY v1 line ${JSON.stringify(line)}`);
  return {
    type: 'header',
    header: {
      version: 1,
      command: 'proxy',
      source: { address: (src as string).toLowerCase(), family, port: sp },
      destination: { address: (dst as string).toLowerCase(), family, port: dp },
      tlvs: [],
      length,
    },
    rest,
  };
}

/** A decimal port, 0–65535, without leading zeros. */
function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** Address block sizes by family (spec §2.2): AF_INET 12, AF_INET6 36, AF_UNIX 216. */
const ADDRESS_BYTES = [0, 12, 36, 216] as const;

function parseV2(
  header: Buffer,
  command: 'proxy' | 'local',
  family: number,
  transport: number,
  rest: Buffer,
): ProxyEvent {
  const body = header.subarray(V2_PREAMBLE);
  const addrLen = ADDRESS_BYTES[family] ?? 0;
  if (body.length < addrLen)
    return violation(
      'proxy-header-invalid',
      `PROXY v2 address block of ${body.length} bytes, family ${family} needs ${addrLen}`,
    );
  const tlvs: ProxyHeader['tlvs'] = [];
  for (let i = addrLen; i < body.length;) {
    if (i + 3 > body.length) return violation('proxy-header-invalid', 'PROXY v2 TLV cut short');
    const type = body[i] as number;
    const n = body.readUInt16BE(i + 1);
    if (i + 3 + n > body.length)
      return violation(
        'proxy-header-invalid',
        `PROXY v2 TLV 0x${type.toString(16)} longer than the header`,
      );
    tlvs.push({ type, value: body.subarray(i + 3, i + 3 + n) });
    i += 3 + n;
  }
  const crc = tlvs.find((t) => t.type === PP2_TYPE_CRC32C);
  if (crc && !crcMatches(header, crc.value))
    return violation('proxy-header-invalid', 'PROXY v2 CRC32C does not match the header');
  const base = { version: 2 as const, command, tlvs, length: header.length };
  // LOCAL, UNSPEC, AF_UNIX and datagrams: use the connection's own endpoints (spec §2.2).
  if (command === 'local' || transport !== 1 || (family !== 1 && family !== 2))
    return { type: 'header', header: base, rest };
  const v4 = family === 1;
  const n = v4 ? 4 : 16;
  const fam = v4 ? 'IPv4' : 'IPv6';
  const at = (o: number): string =>
    v4 ? formatIPv4(body.subarray(o, o + 4)) : formatIPv6(body.subarray(o, o + 16));
  return {
    type: 'header',
    header: {
      ...base,
      source: { address: at(0), family: fam, port: body.readUInt16BE(2 * n) },
      destination: { address: at(n), family: fam, port: body.readUInt16BE(2 * n + 2) },
    },
    rest,
  };
}

function crcMatches(header: Buffer, value: Buffer): boolean {
  if (value.length !== 4) return false;
  const copy = Buffer.from(header);
  // The checksum is computed with its own four bytes zeroed; find them by position.
  const at = value.byteOffset - header.byteOffset;
  copy.fill(0, at, at + 4);
  return crc32c(copy) === value.readUInt32BE(0);
}

function formatIPv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIPv6(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  // IPv4-mapped (RFC 4291 §2.5.5.2) in the dotted form, which unmapIPv4 recognises.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `::ffff:${formatIPv4(b.subarray(12))}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
