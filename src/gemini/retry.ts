// Which API failures are worth another try, how long the server asked us to wait, and the retry
// loop itself (p-retry: exponential backoff with jitter), honouring Retry-After and RetryInfo.

import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import { GbsError, type GbsErrorCode } from '../errors.js';

export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The HTTP status of an SDK `ApiError` (from either SDK major version), if it is one. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { name?: string; status?: unknown };
  return e && e.name === 'ApiError' && typeof e.status === 'number' ? e.status : undefined;
}

/** The API's error body inside an SDK ApiError message, if it parses. */
export function apiErrorBody(
  err: unknown,
): { code?: number; message?: string; status?: string; details?: unknown[] } | undefined {
  if (httpStatusOf(err) === undefined) return undefined;
  try {
    return (JSON.parse((err as Error).message) as { error?: Record<string, unknown> }).error as never;
  } catch {
    return undefined;
  }
}

/** A network failure, a dropped or garbled answer, or an HTTP status the API documents as passing. */
export function isTransient(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status !== undefined) return RETRYABLE_STATUS.has(status);
  if (err instanceof GbsError) return err.retryable === true;
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  if (!e) return false;
  if (e.name === 'AbortError') return false;
  if (e.name === 'SyntaxError') return true; // an empty or cut-off JSON answer
  if (NETWORK_CODES.has(e.code ?? '') || NETWORK_CODES.has(e.cause?.code ?? '')) return true;
  if (e.name === 'TypeError' && /fetch failed|terminated|network/i.test(e.message ?? '')) return true;
  return /upload status is not finalized|other side closed|socket hang up/i.test(e.message ?? '');
}

function durationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(text.trim());
  return m ? Math.ceil(Number(m[1]) * 1000) : undefined;
}

/** What the server asked: `Retry-After` (seconds or a date), or `RetryInfo.retryDelay` in the body. */
export function serverDelayMs(err: unknown, retryAfterHeader?: string | null): number | undefined {
  if (retryAfterHeader) {
    const seconds = Number(retryAfterHeader);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(retryAfterHeader);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  for (const d of apiErrorBody(err)?.details ?? []) {
    const detail = d as { '@type'?: string; retryDelay?: string };
    if (detail['@type']?.endsWith('google.rpc.RetryInfo') && typeof detail.retryDelay === 'string') {
      return durationMs(detail.retryDelay);
    }
  }
  return undefined;
}

export interface RetryPolicy {
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
}

export interface RetryHooks {
  signal: AbortSignal;
  policy: RetryPolicy;
  onRetry?(info: { operation: string; attempt: number; delayMs: number; error: unknown }): void;
}

/** One attempt: its number, a signal for its SDK call, and what it saw (the Retry-After header). */
export interface AttemptInfo {
  attempt: number;
  /**
   * A child of the run's signal, released when the attempt ends. The SDK adds an 'abort' listener
   * to the signal of every call and never removes it; on the run's long-lived signal those would
   * pile up with every poll.
   */
  signal: AbortSignal;
  retryAfter?: string | null;
}

export function describe(err: unknown): string {
  const body = apiErrorBody(err);
  if (body)
    return `${httpStatusOf(err)} ${body.status ?? ''} ${body.message ?? ''}`.replace(/\s+/g, ' ').trim();
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `fn` until it succeeds, retrying transient failures with exponential backoff and jitter.
 * A server-requested delay (Retry-After, RetryInfo) is waited out before p-retry's own backoff.
 * Gives up with GbsError `code` (the cause attached) on a permanent failure or when retries run out.
 */
export async function withRetry<T>(
  operation: string,
  fn: (info: AttemptInfo) => Promise<T>,
  hooks: RetryHooks,
  code: GbsErrorCode = 'GBS_API_ERROR',
  isRetryable: (err: unknown) => boolean = isTransient,
): Promise<T> {
  const { signal, policy } = hooks;
  let info: AttemptInfo = { attempt: 1, signal };
  try {
    return await pRetry(
      async (attempt) => {
        const child = new AbortController();
        const forward = () => child.abort(signal.reason);
        if (signal.aborted) forward();
        else signal.addEventListener('abort', forward, { once: true });
        info = { attempt, signal: child.signal };
        try {
          return await fn(info);
        } catch (err) {
          if (signal.aborted) throw new AbortError(signal.reason as Error);
          if (!isRetryable(err)) throw new AbortError(err as Error);
          throw err;
        } finally {
          signal.removeEventListener('abort', forward);
        }
      },
      {
        retries: policy.retries,
        minTimeout: policy.minTimeoutMs,
        maxTimeout: Math.max(policy.minTimeoutMs, policy.maxTimeoutMs),
        factor: 2,
        randomize: true,
        signal,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft <= 0) return;
          const asked = serverDelayMs(error, info.retryAfter) ?? 0;
          hooks.onRetry?.({ operation, attempt: attemptNumber, delayMs: asked, error });
          if (asked > 0) await sleep(Math.min(asked, 10 * 60_000), undefined, { signal });
        },
      },
    );
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof GbsError) throw err;
    throw new GbsError(code, `${operation} failed: ${describe(err)}`, { cause: err });
  }
}
