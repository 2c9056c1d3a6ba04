/**
 * The server's Prometheus metrics (prom-client), with bounded labels only: outcomes and
 * protocols from fixed sets, never a client, a name or an address. Counters follow what the
 * server observes (transport/server.ts ServerObserver); gauges are read when scraped. Under
 * `--workers N` each worker keeps its own registry and the primary sums them (status/cluster.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutcomeName } from '../transport/session.js';
import type { HttpOutcome } from '../http/status.js';

/** How a connection's stage before the first request ended. */
export type HandshakeOutcome =
  /** TLS done, client certificate verified. */
  | 'ok'
  /** TLS failed (certificate refused, protocol or suite mismatch, reset). */
  | 'failed'
  /** Not done within --handshake-timeout. */
  | 'timeout'
  /** Dropped at twice a connection limit, before TLS. */
  | 'over-limit'
  /** Refused before TLS: not a trusted proxy, or a PROXY header missing, malformed or unexpected. */
  | 'preface-refused';

/** Protocols a request can come in on (HTTP joins when it lands on this port). */
export type RequestProtocol = 'line' | 'http/1.1' | 'h2';

/**
 * A line-protocol connection's record once it has closed (`durationMs` from TLS done), or one
 * HTTP request's (`durationMs` from its header).
 */
export interface RequestRecord {
  protocol: RequestProtocol;
  outcome: OutcomeName | HttpOutcome;
  durationMs: number;
}

/** What the server tells its observer; every method is cheap and never throws. */
export interface ServerObserver {
  handshake(outcome: HandshakeOutcome): void;
  request(r: RequestRecord): void;
}

/** What the metrics read from the running server at scrape time. */
export interface ServerGauges {
  /** TCP connections open now, whatever their stage. */
  readonly connectionCount: number;
  /** Body bytes handed to sockets since start, transfers in flight included. */
  readonly bytesSent: number;
}

/** Expiry dates of the material in force (ms since the epoch). */
export interface MaterialExpiry {
  certificateNotAfter: number;
  /** The earliest notAfter among the CA certificates. */
  caNotAfter: number;
  /** The earliest nextUpdate among the CRLs, when there is a CRL. */
  crlNextUpdate?: number | undefined;
}

export type ReloadTrigger = 'signal' | 'interval';

/** prom-client default metrics that are gauges with a counter's `_total` suffix. */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Transfers last from milliseconds (a small file on loopback) to many minutes (GiB). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export class ServerMetrics implements ServerObserver {
  readonly registry = new Registry();
  private gauges: ServerGauges | undefined;
  private readonly handshakes: Counter<'outcome'>;
  private readonly requests: Counter<'protocol' | 'outcome'>;
  private readonly durations: Histogram<'protocol'>;
  private readonly reloads: Counter<'trigger' | 'outcome'>;
  private readonly expiry: Gauge<'material'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named with the `_total` that Prometheus keeps for counters (promtool refuses them).
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    const gauges = (): ServerGauges | undefined => this.gauges;
    let counted = 0;
    new Gauge({
      name: 'securestream_connections_open',
      help: 'TCP connections open, from accept to close',
      registers,
      collect() {
        this.set(gauges()?.connectionCount ?? 0);
      },
    });
    new Counter({
      name: 'securestream_sent_bytes_total',
      help: 'Body bytes handed to client sockets, transfers in flight included',
      registers,
      collect() {
        // a counter cannot be set: add what was sent since the last scrape
        const now = gauges()?.bytesSent ?? 0;
        if (now > counted) {
          this.inc(now - counted);
          counted = now;
        }
      },
    });
    this.handshakes = new Counter({
      name: 'securestream_handshakes_total',
      help: 'Connections by how their stage before the first request ended',
      labelNames: ['outcome'],
      registers,
    });
    this.requests = new Counter({
      name: 'securestream_requests_total',
      help: 'Requests (line-protocol connections) by protocol and logged outcome',
      labelNames: ['protocol', 'outcome'],
      registers,
    });
    this.durations = new Histogram({
      name: 'securestream_transfer_duration_seconds',
      help: 'Time from finished handshake to the end of a complete transfer (outcome ok)',
      labelNames: ['protocol'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reloads = new Counter({
      name: 'securestream_reloads_total',
      help: 'Reloads of certificate, key, CA, CRL and rules by trigger and outcome',
      labelNames: ['trigger', 'outcome'],
      registers,
    });
    this.expiry = new Gauge({
      name: 'securestream_expiry_timestamp_seconds',
      help: 'When the material in force expires: server certificate and CA notAfter, CRL nextUpdate',
      labelNames: ['material'],
      registers,
      aggregator: 'min',
    });
    for (const outcome of ['ok', 'failed', 'timeout', 'over-limit', 'preface-refused'] as const)
      this.handshakes.inc({ outcome }, 0);
    for (const trigger of ['signal', 'interval'] as const)
      for (const outcome of ['ok', 'failed'] as const) this.reloads.inc({ trigger, outcome }, 0);
  }

  /** Starts reading gauges from the running server. */
  track(gauges: ServerGauges): void {
    this.gauges = gauges;
  }

  handshake(outcome: HandshakeOutcome): void {
    this.handshakes.inc({ outcome });
  }

  request(r: RequestRecord): void {
    this.requests.inc({ protocol: r.protocol, outcome: r.outcome });
    if (r.outcome === 'ok') this.durations.observe({ protocol: r.protocol }, r.durationMs / 1000);
  }

  reloaded(trigger: ReloadTrigger, ok: boolean): void {
    this.reloads.inc({ trigger, outcome: ok ? 'ok' : 'failed' });
  }

  /** The material now in force (at start and after each successful reload). */
  material(e: MaterialExpiry): void {
    this.expiry.set({ material: 'certificate' }, e.certificateNotAfter / 1000);
    this.expiry.set({ material: 'ca' }, e.caNotAfter / 1000);
    if (e.crlNextUpdate === undefined) this.expiry.remove({ material: 'crl' });
    else this.expiry.set({ material: 'crl' }, e.crlNextUpdate / 1000);
  }
}
