// Polling one job until it ends: its state and time waited reported as progress, a deadline past
// which it is cancelled (or the run stops), and a SUCCEEDED job without results asked again.

import { setTimeout as sleep } from 'node:timers/promises';
import { GbsError } from '../errors.js';
import { type JobStatus, TERMINAL_JOB_STATES } from '../gemini/job-status.js';
import { httpStatusOf } from '../gemini/retry.js';
import type { AttemptState, ChunkState } from '../state/run-state.js';
import type { ChunkRef } from './chunk.js';
import type { SubmitContext } from './submit.js';

const KNOWN_STATES = new Set([
  ...TERMINAL_JOB_STATES,
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_QUEUED',
]);

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** How long a SUCCEEDED job without results attached is asked again before it is taken to have
 *  answered nothing (and its keys are sent again). */
const OUTPUT_WAIT_MS = 5 * 60_000;

/** A job that neither changes nor finishes is still reported this often, with the time it has waited. */
const HEARTBEAT_MS = 60_000;

export async function pollUntilDone(
  ref: ChunkRef,
  state: ChunkState,
  attempt: AttemptState,
  ctx: SubmitContext,
): Promise<JobStatus> {
  const job = attempt.job as string;
  const createdAt = Date.parse(attempt.createdAt ?? new Date().toISOString());
  let delay = ctx.poll.initial;
  let last = '';
  let lastEmit = 0;
  let warnedUnknown = false;
  let cancelSent = false;
  let outputWaitSince: number | undefined;
  let warnedOutput = false;
  for (;;) {
    let status: JobStatus;
    try {
      status = await ctx.api.getJob(job);
    } catch (err) {
      // A job recorded as created that the API no longer knows (deleted, or purged): its answers are
      // lost, so it counts as failed and its keys go to a new job (within maxJobAttempts).
      if (httpStatusOf((err as { cause?: unknown }).cause) !== 404) throw err;
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'JOB_GONE',
        message: `job ${job} no longer exists (404 on batches.get); its keys will be sent again`,
      });
      return {
        name: job,
        state: 'JOB_STATE_FAILED',
        error: { code: 5, message: `The job ${job} no longer exists (batches.get answered 404).` },
        gone: true,
      };
    }
    const seen = `${status.state} ${JSON.stringify(status.stats ?? {})}`;
    if (seen !== last || Date.now() - lastEmit >= HEARTBEAT_MS) {
      last = seen;
      lastEmit = Date.now();
      ctx.emit({
        type: 'job-state',
        chunk: ref.index,
        attempt: attempt.n,
        job,
        state: status.state,
        ...(status.stats ? { stats: status.stats } : {}),
        waitedMs: Date.now() - createdAt,
      });
    }
    if (!KNOWN_STATES.has(status.state) && !warnedUnknown) {
      warnedUnknown = true;
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'UNKNOWN_JOB_STATE',
        message: `job ${job} reports the unknown state ${status.state}; treated as not finished`,
      });
    }
    const noOutput = status.state === 'JOB_STATE_SUCCEEDED' && !status.outputFile && !status.inline;
    if (noOutput) outputWaitSince ??= Date.now();
    if (noOutput && Date.now() - (outputWaitSince as number) < OUTPUT_WAIT_MS) {
      // Succeeded, but no results attached yet: taking that for "nothing answered" would send (and
      // bill) every key again, so keep asking for a while first.
      if (!warnedOutput) {
        warnedOutput = true;
        ctx.emit({
          type: 'warning',
          chunk: ref.index,
          code: 'OUTPUT_NOT_READY',
          message: `job ${job} SUCCEEDED without results attached yet; polling again`,
        });
        delay = ctx.poll.initial;
      }
    } else if (TERMINAL_JOB_STATES.has(status.state)) return status;
    const waited = Date.now() - createdAt;
    if (waited > ctx.jobDeadlineMs && !cancelSent && !TERMINAL_JOB_STATES.has(status.state)) {
      // A rerun finds `deadline` set when an earlier process decided to cancel: it cancels again (the
      // earlier cancel may have failed, or never been sent), whatever onJobDeadline says now.
      if (ctx.onJobDeadline === 'error' && !attempt.deadline) {
        throw new GbsError(
          'GBS_JOB_DEADLINE',
          `Job ${job} of chunk ${ref.index} has waited ${duration(waited)}, past jobDeadlineMs (counted from the job's creation); it is left ${status.state}. To wait longer raise jobDeadlineMs and rerun; onJobDeadline: 'resubmit' cancels it and sends its keys again.`,
          { chunk: ref.index, job },
        );
      }
      // Cancel it and keep polling until it says CANCELLED; its missing keys go to a new job.
      attempt.deadline = true;
      ctx.run.saveChunk(state);
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'JOB_DEADLINE',
        message: `job ${job} has waited ${duration(waited)}, past jobDeadlineMs: cancelling it; its missing keys will be sent again`,
      });
      await ctx.api.cancel(job);
      cancelSent = true;
      delay = ctx.poll.initial;
    }
    try {
      await sleep(jitter(delay), undefined, { signal: ctx.signal });
    } catch (err) {
      // The abort's own reason, not the timer's generic AbortError.
      throw ctx.signal.aborted ? ctx.signal.reason : err;
    }
    delay = Math.min(ctx.poll.max, Math.max(delay * 1.5, 1));
  }
}
