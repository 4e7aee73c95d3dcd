// cancelRun: a run's jobs that may still be running (created and not seen to end, or a create in
// doubt) are asked to cancel; a rerun sends the rows they did not answer in new jobs.

import { join } from 'node:path';
import type { GoogleGenAI } from '@google/genai';
import { GbsError } from '../errors.js';
import { TERMINAL_JOB_STATES } from '../gemini/job-status.js';
import type { BatchStats } from '../progress.js';
import { apiFor, liveAttempts, readChunks, readJson } from './status.js';

export interface CancelReport {
  /**
   * Jobs asked to cancel (the API cancels on a best-effort basis; finished jobs are left alone), with
   * their counts just before: the requests processed by then may be billed, and a few more may be
   * before the cancel takes effect.
   */
  cancelled: Array<{ chunk: number; attempt: number; job: string; stats?: BatchStats }>;
  /** Jobs that had ended already (the state directory had not seen it yet). */
  ended: Array<{ chunk: number; attempt: number; job: string; state: string }>;
  /** Creates in doubt that no job was found for. */
  notFound: Array<{ chunk: number; attempt: number; displayName: string }>;
}

/**
 * Cancels a run's jobs that may still be running: every attempt recorded as created (and not seen
 * to end) or as being created (found by its display name). A rerun afterwards sends the rows those
 * jobs did not answer in new jobs (up to `maxJobAttempts` per chunk).
 *
 * @example
 * ```ts
 * import { GoogleGenAI } from '@google/genai';
 * import { cancelRun } from 'gemini-batch-stream';
 * const { cancelled } = await cancelRun('.gemini-batch/reviews', { client: new GoogleGenAI({}) });
 * console.log(`cancelled ${cancelled.length} jobs`);
 * ```
 */
export async function cancelRun(
  stateDir: string,
  options: { client: GoogleGenAI; signal?: AbortSignal },
): Promise<CancelReport> {
  if (!readJson(join(stateDir, 'manifest.json'))) {
    throw new GbsError('GBS_INVALID_OPTION', `${stateDir} holds no batch run (no manifest.json).`, {
      option: 'stateDir',
    });
  }
  const api = apiFor(options.client, options.signal);
  const report: CancelReport = { cancelled: [], ended: [], notFound: [] };
  for (const { chunk, attempt } of liveAttempts(readChunks(stateDir, Date.now()))) {
    const job = await api.jobOf(attempt);
    if (!job) {
      report.notFound.push({ chunk, attempt: attempt.attempt, displayName: attempt.displayName });
      continue;
    }
    const { state, stats } = await api.getJob(job);
    if (TERMINAL_JOB_STATES.has(state)) {
      report.ended.push({ chunk, attempt: attempt.attempt, job, state });
      continue;
    }
    await api.cancel(job);
    report.cancelled.push({ chunk, attempt: attempt.attempt, job, ...(stats ? { stats } : {}) });
  }
  return report;
}
