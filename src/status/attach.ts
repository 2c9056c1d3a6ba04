/**
 * Metrics and the status endpoint for one serving process, in the few calls `serve` makes:
 * created before the server (its observer), started once it listens, told of material and
 * reloads, drained at the first stop request, closed after the last connection. A cluster
 * worker keeps its metrics for the primary, which serves the one endpoint (status/cluster.ts).
 * Without `--status-listen` every call is a no-op.
 */
import type { Logger } from '../log.js';
import { exposeToPrimary, isWorker } from './cluster.js';
import { startStatusServer, type StatusServer } from './http.js';
import {
  ServerMetrics,
  type MaterialExpiry,
  type ReloadTrigger,
  type ServerGauges,
  type ServerObserver,
} from './metrics.js';

export class ServeStatus {
  private readonly metrics: ServerMetrics | undefined;
  private http: StatusServer | undefined;
  private draining = false;

  constructor(private readonly at: { host: string; port: number } | undefined) {
    this.metrics = at ? new ServerMetrics() : undefined;
  }

  /** What the file server reports to (undefined without --status-listen). */
  get observer(): ServerObserver | undefined {
    return this.metrics;
  }

  /** The server listens: read its gauges, and answer /healthz and /metrics. */
  async start(server: ServerGauges, log: Logger): Promise<void> {
    const { metrics, at } = this;
    if (!metrics || !at) return;
    metrics.track(server);
    if (isWorker()) {
      exposeToPrimary(metrics.registry);
      return;
    }
    this.http = await startStatusServer(
      at,
      {
        healthy: () => !this.draining,
        metrics: async () => ({
          contentType: metrics.registry.contentType,
          body: await metrics.registry.metrics(),
        }),
      },
      log,
    );
    const { address, port } = this.http.address;
    log.info({ address, port }, 'status listening');
  }

  /** Where /healthz and /metrics answer, once started in this process (not in a worker). */
  get address(): { address: string; port: number } | undefined {
    return this.http?.address;
  }

  material(e: MaterialExpiry): void {
    this.metrics?.material(e);
  }

  reloaded(trigger: ReloadTrigger, ok: boolean): void {
    this.metrics?.reloaded(trigger, ok);
  }

  /** A graceful shutdown began: /healthz answers 503 from now on. */
  drain(): void {
    this.draining = true;
  }

  async close(): Promise<void> {
    await this.http?.close();
  }
}
