/**
 * The server's log records in words: one readable line per record for `--log-format pretty`
 * (pino-pretty's messageFormat hook calls {@link formatRecord}), and the "listening" summary
 * that the banner on stdout and the pretty log share. JSON records are the contract (field
 * names in docs/SECURITY.md); this is only how a person reads them.
 */
import { formatBytes } from './progress.js';
import { escapeControls, jsonForTerminal } from './terminaltext.js';
import { formatHostPort } from './transport/address.js';

/** A pino record as parsed from its JSON line. */
export type LogRecord = Record<string, unknown>;

/** The colour functions pino-pretty passes (colorette); identity functions when colour is off. */
export interface Colors {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  gray(s: string): string;
}

/** What the "listening" record and banner say about a started server. */
export interface ListeningFields {
  address: string;
  port: number;
  tlsMax: string;
  ciphers: readonly string[];
  mode: string;
  root: string;
  /** Processes sharing the port (`--workers`), when more than one. */
  workers?: number;
  /** HTTP/1.1 and HTTP/2 beside the line protocol (absent: the line protocol only). */
  http?: boolean;
  /** `--status-listen`: where /healthz and /metrics answer, as ADDR:PORT. */
  statusListen?: string;
}

/**
 * `listening on ADDR:PORT (TLS …, ciphers …; client certificates required; mode …; protocols;
 * root …)`, an IPv6 address in brackets.
 */
export function listeningSummary(f: ListeningFields): string {
  const tls = f.tlsMax === '1.3' ? '1.2-1.3' : '1.2 only';
  const workers = f.workers !== undefined && f.workers > 1 ? `; ${f.workers} workers` : '';
  const status = f.statusListen ? `; /healthz and /metrics on ${f.statusListen}` : '';
  const protocols = f.http ? 'HTTP/1.1, HTTP/2 and the line protocol' : 'line protocol only';
  return (
    `listening on ${formatHostPort(f.address, f.port)} (TLS ${tls}, ciphers ${f.ciphers.join(':')}; ` +
    `client certificates required; mode ${f.mode}; ${protocols}; root ${f.root}${workers}${status})`
  );
}

/** Keys every record has or that no one reads on a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * The text after time and level for one record: a connection as
 * `#7 127.0.0.1:52922 CN=alice GET "big.bin" ok, 64.0 MiB in 412 ms (155.3 MiB/s)`, a failed
 * handshake as `handshake failed 127.0.0.1:5555: client certificate revoked (…) [CN=bob, serial 4f1a]`,
 * "listening" as the banner says it, anything else as its message and `key=value` pairs.
 */
export function formatRecord(log: LogRecord, c: Colors): string {
  const worker = log['worker'] === undefined ? '' : c.gray(`[worker ${str(log['worker'])}] `);
  switch (log['msg']) {
    case 'connection':
      return worker + connectionLine(log, c);
    case 'request':
      return worker + requestLine(log, c);
    case 'handshake failed':
      return worker + handshakeLine(log, c);
    case 'listening':
      if (isListening(log)) return worker + listeningSummary(log);
      break;
  }
  return worker + genericLine(log, c);
}

function connectionLine(log: LogRecord, c: Colors): string {
  const parts = [`#${str(log['conn'])}`, peerOf(log), str(log['subject'] ?? '-')];
  if (log['requests'] !== undefined) {
    parts.push(`${str(log['wire'])}, ${num(log['requests'])} requests`);
  } else {
    parts.push(log['request'] === undefined ? '(no request)' : `GET ${quote(log['request'])}`);
  }
  if (log['served'] !== undefined) parts.push(`(sent ${quote(log['served'])})`);
  return `${parts.join(' ')} ${outcomeTail(log, c)}`;
}

/** Behind a load balancer (PROXY protocol) the peer is the client; say which balancer relayed it. */
function peerOf(log: LogRecord): string {
  return log['proxy'] === undefined
    ? str(log['peer'])
    : `${str(log['peer'])} via ${str(log['proxy'])}`;
}

/** `outcome[: reason], bytes in duration (rate)`, the outcome coloured. */
function outcomeTail(log: LogRecord, c: Colors): string {
  const outcome = str(log['outcome']);
  const bytes = num(log['bytes']);
  const ms = num(log['durationMs']);
  const rate = bytes > 0 && ms > 0 ? ` (${formatBytes((bytes * 1000) / ms)}/s)` : '';
  const why = outcome === 'ok' || log['reason'] === undefined ? '' : `: ${str(log['reason'])}`;
  const coloured = outcome === 'ok' ? c.green(outcome) : paint(outcome, c);
  return `${coloured}${why}, ${formatBytes(bytes)} in ${duration(ms)}${rate}`;
}

/** One HTTP request: `#7 127.0.0.1:52922 CN=alice h2 GET /big.bin 200 ok, 64.0 MiB in …`. */
function requestLine(log: LogRecord, c: Colors): string {
  const parts = [`#${str(log['conn'])}`, peerOf(log), str(log['subject'] ?? '-')];
  parts.push(str(log['http']), str(log['method']), quote(log['target']), str(log['status']));
  if (log['range'] !== undefined) parts.push(c.gray(str(log['range'])));
  return `${parts.join(' ')} ${outcomeTail(log, c)}`;
}

function handshakeLine(log: LogRecord, c: Colors): string {
  const code = log['verifyError'] ?? log['error'];
  const detail = code === undefined ? '' : c.gray(` (${str(code)})`);
  // the certificate the client presented, when there was one (transport/explain.ts)
  const cert =
    log['subject'] === undefined
      ? ''
      : c.gray(` [${str(log['subject'])}, serial ${str(log['serial'])}]`);
  return `${c.red('handshake failed')} ${str(log['peer'])}: ${str(log['reason'])}${detail}${cert}`;
}

function genericLine(log: LogRecord, c: Colors): string {
  const pairs = Object.entries(log)
    .filter(([k, v]) => !HIDDEN.has(k) && k !== 'worker' && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? quoteIfNeeded(v) : jsonForTerminal(v)}`);
  return [str(log['msg'] ?? ''), ...pairs.map((p) => c.gray(p))].join(' ');
}

/** Refusals (the client's doing) in yellow, failures (the server's or the network's) in red. */
function paint(outcome: string, c: Colors): string {
  const refusals = [
    'not-found',
    'forbidden',
    'bad-request',
    'busy',
    'unsupported-key',
    'moved',
    'method-not-allowed',
    'range-not-satisfiable',
    'precondition-failed',
    'header-too-large',
    'uri-too-long',
  ];
  return refusals.includes(outcome) ? c.yellow(outcome) : c.red(outcome);
}

function isListening(log: LogRecord): log is LogRecord & ListeningFields {
  return (
    typeof log['address'] === 'string' &&
    typeof log['port'] === 'number' &&
    typeof log['tlsMax'] === 'string' &&
    Array.isArray(log['ciphers']) &&
    typeof log['mode'] === 'string' &&
    typeof log['root'] === 'string'
  );
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function raw(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * A field as text. Names, subjects, reasons and peers come from clients (a request name,
 * a certificate's subject): what a terminal would act on is escaped (src/terminaltext.ts).
 */
function str(v: unknown): string {
  return escapeControls(raw(v));
}

/** A name as a JSON string: quoted, control characters escaped, so a line stays one line. */
function quote(v: unknown): string {
  return jsonForTerminal(raw(v));
}

function quoteIfNeeded(v: string): string {
  return /^[\w.:/@=+-]+$/.test(v) ? v : jsonForTerminal(v);
}
