/**
 * Metrics under `serve --workers N`: each worker counts in its own registry; the primary,
 * which alone listens on --status-listen, asks every worker over the cluster's IPC channel at
 * each scrape and serves the aggregate (prom-client's AggregatorRegistry). Counters and
 * histograms are summed over workers, and so is connections_open; the expiry timestamps take
 * the minimum (every worker holds the same material once a reload has reached them all).
 * /healthz is the primary's: 503 from the first stop request.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { startStatusServer, type StatusServer } from './http.js';

export const isWorker = (): boolean => cluster.isWorker;

/** In a worker: answer the primary's metrics requests from `registry`. */
export function exposeToPrimary(registry: Registry): void {
  // Constructing an AggregatorRegistry is what installs prom-client's IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** In the primary: the status endpoint over every worker's metrics. */
export async function startPrimaryStatus(
  at: { host: string; port: number },
  healthy: () => boolean,
  log: Logger,
): Promise<StatusServer> {
  const aggregator = new AggregatorRegistry();
  const server = await startStatusServer(
    at,
    {
      healthy,
      metrics: async () => ({
        contentType: aggregator.contentType,
        body: await aggregator.clusterMetrics(),
      }),
    },
    log,
  );
  const { address, port } = server.address;
  log.info({ address, port }, 'status listening');
  return server;
}
