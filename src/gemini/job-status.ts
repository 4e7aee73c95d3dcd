// What the library knows of a batch job after `batches.get`: its state (and which states end a job),
// output, and `batchStats` read tolerantly (int64 strings, zero counts left out).

import type { BatchStats } from '../progress.js';

export const TERMINAL_JOB_STATES: ReadonlySet<string> = new Set([
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
]);

/** What we know of a job after `batches.get`. */
export interface JobStatus {
  name: string;
  state: string;
  displayName?: string;
  /** `files/batch-…` for a file job with results. */
  outputFile?: string;
  /** Inline results (a small job may be answered inline even when it came from a file). */
  inline?: Array<{ response?: unknown; error?: unknown; metadata?: Record<string, unknown> }>;
  stats?: BatchStats;
  error?: { code?: number; message?: string };
  /** Not the API's answer: the job is gone (404), so it counts as FAILED (warning JOB_GONE). */
  gone?: true;
}

/** `batchStats` as numbers (the API sends int64 strings and leaves zero counts out). */
export function toStats(raw: unknown): BatchStats | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const n = (k: string) => Number((raw as Record<string, unknown>)[k] ?? 0) || 0;
  return {
    requestCount: n('requestCount'),
    successfulRequestCount: n('successfulRequestCount'),
    failedRequestCount: n('failedRequestCount'),
    pendingRequestCount: n('pendingRequestCount'),
  };
}
