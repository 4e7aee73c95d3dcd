// Progress events (emitted as 'progress' on the geminiBatch stream and passed to `onProgress`)
// and the run summary.

import type { GbsErrorCode } from './errors.js';
import type { BatchResult, Usage } from './types.js';

/** `batchStats` as numbers (the API sends strings and leaves zero counts out). */
export interface BatchStats {
  requestCount: number;
  successfulRequestCount: number;
  failedRequestCount: number;
  pendingRequestCount: number;
}

/**
 * "N of M requests processed (possibly billed)": what a job that ends or is cancelled before it
 * finished may still cost (the Batch API may bill every request it processed, answered or failed).
 */
export function processedNote(stats: BatchStats | undefined): string {
  if (!stats) return 'request counts unknown';
  const done = stats.successfulRequestCount + stats.failedRequestCount;
  return `${done} of ${stats.requestCount} requests processed (possibly billed)`;
}

export type ProgressEvent =
  | { type: 'chunk-spooled'; chunk: number; requests: number; rows: number; bytes: number; resumed: boolean }
  | { type: 'uploaded'; chunk: number; attempt: number; file: string; bytes: number }
  | {
      type: 'job-created';
      chunk: number;
      attempt: number;
      job: string;
      displayName: string;
      adopted: boolean;
    }
  | {
      type: 'job-state';
      chunk: number;
      attempt: number;
      job: string;
      state: string;
      stats?: BatchStats;
      /** Time since the job was created. */
      waitedMs: number;
    }
  | { type: 'downloaded'; chunk: number; attempt: number; job: string; bytes: number }
  | { type: 'chunk-emitted'; chunk: number; rows: number; ok: number; failed: number }
  | { type: 'retry'; operation: string; chunk?: number; attempt: number; delayMs: number; error: string }
  | { type: 'warning'; chunk?: number; code: string; message: string }
  | { type: 'done'; summary: RunSummary };

export interface RunSummary {
  rows: number;
  succeeded: number;
  failed: number;
  /** Error records by code. */
  failedByCode: Partial<Record<GbsErrorCode, number>>;
  chunks: number;
  /** Jobs this process created (a resumed run does not count jobs created before). */
  jobsCreated: number;
  /** Jobs found again by display name instead of being created twice. */
  jobsAdopted: number;
  usage: Usage;
  /** Anomalies in result files: lines for keys their job was not sent, second answers for a key, unreadable lines. */
  anomalies: { unknownKeys: number; duplicateKeys: number; malformedLines: number };
}

export function emptyUsage(): Usage {
  return { promptTokens: 0, outputTokens: 0, thoughtsTokens: 0, cachedTokens: 0, totalTokens: 0 };
}

export function emptySummary(): RunSummary {
  return {
    rows: 0,
    succeeded: 0,
    failed: 0,
    failedByCode: {},
    chunks: 0,
    jobsCreated: 0,
    jobsAdopted: 0,
    usage: emptyUsage(),
    anomalies: { unknownKeys: 0, duplicateKeys: 0, malformedLines: 0 },
  };
}

/** Adds `usage` into `total`. */
export function addUsage(total: Usage, usage: Usage): void {
  total.promptTokens += usage.promptTokens;
  total.outputTokens += usage.outputTokens;
  total.thoughtsTokens += usage.thoughtsTokens;
  total.cachedTokens += usage.cachedTokens;
  total.totalTokens += usage.totalTokens;
}

/** Counts one emitted result into the summary: its row, its outcome (by error code) and its usage. */
export function countResult(summary: RunSummary, result: BatchResult): void {
  summary.rows++;
  if (result.ok) summary.succeeded++;
  else {
    summary.failed++;
    const code = result.error?.code;
    if (code) summary.failedByCode[code] = (summary.failedByCode[code] ?? 0) + 1;
  }
  if (result.usage) addUsage(summary.usage, result.usage);
}
