/**
 * Retrying an operation that failed for a reason that may go away: a connection refused
 * because the server is still starting (`get --retry-connrefused`, as curl and wget name it),
 * or a network failure in the middle of a transfer that the next attempt resumes
 * (`get --retries N`). A policy says which failures are worth another attempt, for how long
 * or how many times, and how the waits grow.
 */
import { errnoCode, isSecureStreamError, type ErrorCode } from './errors.js';
import { WireError } from './protocol.js';

/** First wait between attempts, in ms; each wait doubles. */
export const BACKOFF_START_MS = 50;
/** Longest wait between attempts, in ms. */
export const BACKOFF_MAX_MS = 1000;
/** How long `--retry-connrefused` keeps trying a refused connection, in ms. */
export const CONNREFUSED_RETRY_MS = 10_000;

/** `--retries`: first wait in ms, doubling up to RETRIES_MAX_MS, each with jitter. */
export const RETRIES_START_MS = 500;
export const RETRIES_MAX_MS = 10_000;

export interface RetryPolicy {
  /** True when `e` is worth another attempt. */
  retryable(e: unknown): boolean;
  /** No attempt starts later than this many ms after the first (default: no limit). */
  forMs?: number;
  /** Attempts after the first one (default: no limit). */
  retries?: number;
  /** First wait and longest wait in ms (default BACKOFF_START_MS, BACKOFF_MAX_MS). */
  startMs?: number;
  maxMs?: number;
  /**
   * Each wait is drawn from [wait/2, wait] rather than fixed, so that clients cut off
   * together by one server do not all come back at the same instant.
   */
  jitter?: boolean;
}

/** Failures of a connect that nothing answered (ECONNREFUSED): the server is not up yet. */
export const connectionRefused: RetryPolicy = {
  retryable: (e) =>
    isSecureStreamError(e) && e.code === 'connect-failed' && errnoCode(e.cause) === 'ECONNREFUSED',
  forMs: CONNREFUSED_RETRY_MS,
};

/**
 * Failures a later attempt may get past: no connection (refused, unreachable, reset during
 * the handshake, a timeout), a transfer cut off or stalled, a server at its limit (`busy`) or
 * whose file was changing (HTTP 503 `file-changed`). Not: certificates refused or untrusted,
 * refusals of the name, digests that do not match, local files that cannot be written.
 */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'connect-failed',
  'tls-handshake',
  'truncated',
  'timeout',
]);
const TRANSIENT_REFUSALS = new Set(['busy', 'file-changed']);

export function transientFailure(e: unknown): boolean {
  if (e instanceof WireError) return TRANSIENT_REFUSALS.has(e.wireCode);
  return isSecureStreamError(e) && TRANSIENT.has(e.code);
}

/** `get --retries N`: up to N more attempts after transient failures, waits with jitter. */
export function networkFailures(retries: number): RetryPolicy {
  return {
    retryable: transientFailure,
    retries,
    startMs: RETRIES_START_MS,
    maxMs: RETRIES_MAX_MS,
    jitter: true,
  };
}

/**
 * Runs `attempt` until it succeeds, fails for a reason the policy does not retry, or the
 * policy's time or count is used up (then the last failure is thrown). `attempt` gets the
 * number of the attempt (0 for the first). An abort of `signal` ends the waiting with the
 * signal's reason. `onRetry` hears about each retry (the failure, the wait in ms).
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy | undefined,
  opts: { signal?: AbortSignal | undefined; onRetry?: (e: unknown, waitMs: number) => void } = {},
): Promise<T> {
  const started = Date.now();
  const maxMs = policy?.maxMs ?? BACKOFF_MAX_MS;
  let wait = policy?.startMs ?? BACKOFF_START_MS;
  for (let n = 0; ; n++, wait = Math.min(wait * 2, maxMs)) {
    try {
      return await attempt(n);
    } catch (e) {
      opts.signal?.throwIfAborted();
      if (!policy?.retryable(e) || n >= (policy.retries ?? Infinity)) throw e;
      const left = started + (policy.forMs ?? Infinity) - Date.now();
      if (left <= 0) throw e;
      const drawn = policy.jitter ? wait / 2 + Math.random() * (wait / 2) : wait;
      const ms = Math.round(Math.min(drawn, left));
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
