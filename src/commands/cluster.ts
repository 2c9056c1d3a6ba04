/**
 * `serve --workers N`: N processes share one listening socket (node:cluster), so handshakes
 * and transfers use every core. The primary only supervises: it forks the workers, prints one
 * "listening" line, turns its own signals into requests to every worker, and replaces a
 * worker that dies while the server is up.
 */
import cluster, { type Worker } from 'node:cluster';
import { SecureStreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { listeningSummary, type ListeningFields } from '../logformat.js';
import { processSignals, type Announce, type Controls } from './control.js';
import { startPrimaryStatus } from '../status/cluster.js';
import { formatHostPort } from '../transport/address.js';

type Message =
  | { securestream: 'listening'; fields: ListeningFields & Record<string, unknown> }
  | { securestream: 'stop'; reason: string }
  | { securestream: 'reload' };

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && 'securestream' in m;
}

/** A worker restarts no more often than this; a crash loop ends the server instead. */
const MIN_WORKER_LIFETIME_MS = 5_000;

/**
 * Controls of a worker. Stop and reload come from the primary; SIGINT and SIGHUP, which a
 * terminal sends to the whole process group, are left to the primary so that one Ctrl-C is
 * not taken for two. SIGTERM aimed at this worker alone, or losing the primary, stops it.
 */
export const workerControls: Controls = {
  subscribe({ stop, reload }) {
    const onMessage = (m: unknown): void => {
      if (!isMessage(m)) return;
      if (m.securestream === 'stop') stop(m.reason);
      else if (m.securestream === 'reload') reload();
    };
    const ignore = (): void => undefined;
    const onTerm = (): void => {
      stop('SIGTERM');
    };
    const onDisconnect = (): void => {
      stop('primary gone');
    };
    process.on('message', onMessage);
    process.on('SIGINT', ignore);
    process.on('SIGHUP', ignore);
    process.on('SIGTERM', onTerm);
    process.on('disconnect', onDisconnect);
    return () => {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      // The IPC channel would keep a stopped worker alive; closing it lets the process exit.
      if (process.connected) process.disconnect();
    };
  },
};

/** A worker's announcement goes to the primary, which announces the server once for all. */
export const announceToPrimary: Announce = (_banner, fields) => {
  process.send?.({ securestream: 'listening', fields } satisfies Message);
};

export const isClusterWorker = (): boolean => cluster.isWorker;

/** This worker's number (1..), for its log lines. */
export const workerId = (): number => cluster.worker?.id ?? 0;

/** Runs the primary until every worker has stopped after a stop request. */
export async function runPrimary(
  workers: number,
  log: Logger,
  announce: Announce,
  status?: { host: string; port: number },
): Promise<void> {
  const born = new Map<Worker, number>();
  let stopping = false;
  let announced = false;
  const broadcast = (m: Message): void => {
    for (const w of born.keys()) if (w.isConnected()) w.send(m);
  };

  let failStart!: (e: Error) => void;
  let allListening!: () => void;
  const started = new Promise<void>((resolve, reject) => {
    allListening = resolve;
    failStart = reject;
  });
  let listening = 0;
  let allExited!: () => void;
  const exited = new Promise<void>((resolve) => {
    allExited = resolve;
  });

  const fork = (): void => {
    const w = cluster.fork();
    born.set(w, Date.now());
    w.on('message', (m: unknown) => {
      if (!isMessage(m) || m.securestream !== 'listening') return;
      if (!announced && ++listening === workers) {
        announced = true;
        const at = endpoint?.address;
        const statusListen = at && formatHostPort(at.address, at.port);
        const fields = { ...m.fields, workers, ...(statusListen ? { statusListen } : {}) };
        announce(`securestream: ${listeningSummary(fields)}`, fields);
        allListening();
      }
    });
    w.on('exit', (code, signal) => {
      const lived = Date.now() - (born.get(w) as number);
      born.delete(w);
      if (stopping) {
        if (born.size === 0) allExited();
        return;
      }
      if (!announced) {
        failStart(
          new SecureStreamError(
            'worker-failed',
            `a worker exited (code ${code}${signal ? `, signal ${signal}` : ''}) while starting`,
          ),
        );
        return;
      }
      log.error({ worker: w.id, code, signal, livedMs: lived }, 'worker died');
      if (lived < MIN_WORKER_LIFETIME_MS) {
        log.error('workers are dying right after start; stopping the server');
        stopping = true;
        broadcast({ securestream: 'stop', reason: 'crash loop' });
        if (born.size === 0) allExited();
        return;
      }
      fork();
    });
  };

  // Bound before any worker starts: a taken status port fails the start before anything
  // listens or is announced.
  const endpoint = status && (await startPrimaryStatus(status, () => !stopping, log));
  let stops = 0;
  const unsubscribe = processSignals.subscribe({
    stop(reason) {
      stopping = true;
      stops++;
      log.info({ signal: reason, workers: born.size, now: stops > 1 }, 'stopping workers');
      if (born.size === 0) allExited();
      // The workers count requests themselves: a second one closes their connections at once.
      broadcast({ securestream: 'stop', reason });
    },
    reload() {
      broadcast({ securestream: 'reload' });
    },
  });
  let up = false;
  try {
    for (let i = 0; i < workers; i++) fork();
    try {
      await started;
    } catch (e) {
      stopping = true;
      for (const w of born.keys()) w.kill('SIGKILL');
      throw e;
    }
    up = true;
    await exited;
  } finally {
    await endpoint?.close();
    unsubscribe(up);
  }
}
