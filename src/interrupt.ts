/**
 * Interruption of the commands that write files (`get`, `payload`, `encrypt`, `decrypt`, `pki`):
 * SIGINT, SIGTERM and SIGHUP become one AbortSignal. Whatever holds an AtomicFile created with
 * that signal loses its temporary file at once; the command then stops and the run ends with
 * an InterruptedError, whose exit status is 128 + the signal's number as shells report it
 * (130, 143, 129). `serve` has its own signal handling (graceful stop, reload) and does not
 * use this.
 */
import { setMaxListeners } from 'node:events';
import { InterruptedError, type InterruptSignal } from './errors.js';

/** The signals that interrupt a writing command. */
export const INTERRUPT_SIGNALS: readonly InterruptSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * How long an interrupted command may take to stop by itself (close sockets, finish the
 * unlink) before the run reports the interruption anyway; the temporary files are gone at the
 * signal already.
 */
export const SETTLE_MS = 2000;

/**
 * Runs `work` with a signal that aborts, with an InterruptedError as its reason, on the first
 * SIGINT, SIGTERM or SIGHUP, or with the error `stop` rejects with (standard output closed by
 * its reader). After an abort the result is that reason whatever `work` resolves or rejects
 * with: once it settles, or after SETTLE_MS if it does not. The signal handlers are removed at
 * the first signal, so a second one has the default effect and ends the process at once (the
 * temporary files are already gone).
 */
export async function runInterruptible<T>(
  work: (signal: AbortSignal) => Promise<T>,
  settleMs = SETTLE_MS,
  partial: 'removed' | 'kept' = 'removed',
  stop?: Promise<never>,
): Promise<T> {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one listener per staged file: `pki init` stages dozens
  let interrupted!: (e: unknown) => void;
  const onSignal = new Promise<never>((_, reject) => {
    interrupted = reject;
  });
  onSignal.catch(() => undefined);
  const handlers = INTERRUPT_SIGNALS.map((sig) => {
    const handler = (): void => {
      remove();
      const reason = new InterruptedError(sig, partial);
      ac.abort(reason);
      interrupted(reason);
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  const remove = (): void => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
  stop?.catch((e: unknown) => {
    if (ac.signal.aborted) return;
    ac.abort(e);
    interrupted(e);
  });
  const running = work(ac.signal);
  try {
    return await Promise.race([running, onSignal]);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    // The command was told to stop: let it clean up (close sockets, await its unlinks) for a
    // bounded time, then report the interruption.
    await Promise.race([running.catch(() => undefined), delay(settleMs)]);
    throw ac.signal.reason;
  } finally {
    remove();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
