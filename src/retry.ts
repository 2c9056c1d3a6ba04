/**
 * Retrying an operation that failed for a reason that may go away: a connection refused
 * because the server is still starting (`get --retry-connrefused`, as curl and wget name it).
 * A policy says which failures are worth another attempt and for how long; the waits grow
 * from BACKOFF_START_MS to BACKOFF_MAX_MS. Other retry reasons (network failures with
 * resume) plug in as further policies.
 */
import { errnoCode, isSecureStreamError } from './errors.js';

/** First wait between attempts, in ms; each wait doubles. */
export const BACKOFF_START_MS = 50;
/** Longest wait between attempts, in ms. */
export const BACKOFF_MAX_MS = 1000;
/** How long `--retry-connrefused` keeps trying a refused connection, in ms. */
export const CONNREFUSED_RETRY_MS = 10_000;

export interface RetryPolicy {
  /** True when `e` is worth another attempt. */
  retryable(e: unknown): boolean;
  /** No attempt starts later than this many ms after the first. */
  forMs: number;
}

/** Failures of a connect that nothing answered (ECONNREFUSED): the server is not up yet. */
export const connectionRefused: RetryPolicy = {
  retryable: (e) =>
    isSecureStreamError(e) && e.code === 'connect-failed' && errnoCode(e.cause) === 'ECONNREFUSED',
  forMs: CONNREFUSED_RETRY_MS,
};

/**
 * Runs `attempt` until it succeeds, fails for a reason the policy does not retry, or the
 * policy's time is up (then the last failure is thrown). An abort of `signal` ends the waiting
 * with the signal's reason. `onRetry` hears about each retry (the failure, the wait in ms).
 */
export async function retry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy | undefined,
  opts: { signal?: AbortSignal; onRetry?: (e: unknown, waitMs: number) => void } = {},
): Promise<T> {
  const started = Date.now();
  for (let wait = BACKOFF_START_MS; ; wait = Math.min(wait * 2, BACKOFF_MAX_MS)) {
    try {
      return await attempt();
    } catch (e) {
      opts.signal?.throwIfAborted();
      const left = started + (policy?.forMs ?? 0) - Date.now();
      if (!policy?.retryable(e) || left <= 0) throw e;
      const ms = Math.min(wait, left);
      opts.onRetry?.(e, ms);
      await sleep(ms, opts.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
