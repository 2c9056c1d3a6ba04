/**
 * What tells a running server to stop or reload — process signals, or the primary of a
 * `--workers` cluster — and the loop that obeys until the server has stopped.
 */
import type { Logger } from '../log.js';
import type { ListeningFields } from '../logformat.js';

/** A started server as far as stopping and reloading go (commands/serve.ts RunningServer). */
export interface Stoppable {
  server: { readonly connectionCount: number; destroyAll(): number };
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Announces a started server once: `banner` is the `securestream: listening on …` line for
 * stdout, `fields` the "listening" log record (src/logformat.ts renders it as the banner).
 */
export type Announce = (banner: string, fields: ListeningFields & Record<string, unknown>) => void;

/** What can tell a running server to stop or reload: process signals, or a cluster primary. */
export interface Controls {
  /**
   * Calls `stop` on a stop request (a second one means "now") and `reload` on a reload one.
   * The returned function ends the subscription: `started` false (the server never came up)
   * gives every signal back its default action, since no shutdown log can be cut short.
   */
  subscribe(handlers: {
    stop: (reason: string) => void;
    reload: () => void;
  }): (started: boolean) => void;
}

/**
 * SIGTERM/SIGINT stop (the first gracefully, a second at once), SIGHUP reloads. SIGTERM and
 * SIGINT stay handled until exit: a late second signal must not kill the process mid-log.
 */
export const processSignals: Controls = {
  subscribe({ stop, reload }) {
    const onTerm = (): void => {
      stop('SIGTERM');
    };
    const onInt = (): void => {
      stop('SIGINT');
    };
    const onHup = (): void => {
      reload();
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
    return (started) => {
      process.off('SIGHUP', onHup);
      if (started) return;
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    };
  },
};

/**
 * Runs until told to stop: the first stop request stops accepting and lets transfers finish
 * within the grace period, a second closes every connection at once; reload requests reload.
 * Requests that arrive while the server is still starting are acted on once it is up.
 */
export async function serveUntilSignalled(
  start: () => Promise<Stoppable>,
  log: Logger,
  controls: Controls = processSignals,
): Promise<void> {
  // Mutated from signal handlers, so kept in one object the compiler does not narrow.
  const state: { running?: Stoppable; stopping?: string; reloadPending: boolean } = {
    reloadPending: false,
  };
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const beginStop = (r: Stoppable, signal: string): void => {
    log.info({ signal, connections: r.server.connectionCount }, 'shutting down');
    void r.stop().then(stopped);
  };
  const onStop = (signal: string): void => {
    if (state.stopping !== undefined) {
      const cut = state.running?.server.destroyAll() ?? 0;
      log.warn({ signal, cut }, 'second signal: closing every connection now');
      return;
    }
    state.stopping = signal;
    if (state.running) beginStop(state.running, signal);
  };
  const onHup = (): void => {
    if (state.running) void state.running.reload();
    else state.reloadPending = true;
  };
  const unsubscribe = controls.subscribe({ stop: onStop, reload: onHup });
  let running: Stoppable;
  try {
    running = await start();
  } catch (e) {
    unsubscribe(false);
    throw e;
  }
  try {
    state.running = running;
    if (state.stopping !== undefined) beginStop(running, state.stopping);
    else if (state.reloadPending) void running.reload();
    await done;
  } finally {
    unsubscribe(true);
  }
}
