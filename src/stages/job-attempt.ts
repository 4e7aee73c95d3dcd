// One job attempt of a chunk, from its spooled requests file to its results on disk: upload,
// create (adopting a create whose answer was lost), poll (with a deadline), download.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GbsError, withContext } from '../errors.js';
import { type JobStatus, TERMINAL_JOB_STATES } from '../gemini/api.js';
import { describe, httpStatusOf } from '../gemini/retry.js';
import { processedNote } from '../progress.js';
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

async function pollUntilDone(
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

/** Inline answers (a small job can come back inline) → the same JSONL a results file holds. */
function inlineToJsonl(inline: NonNullable<JobStatus['inline']>): string {
  return inline
    .map((item) => {
      const { metadata, ...body } = item;
      return `${JSON.stringify({ ...body, ...(metadata && 'key' in metadata ? { key: metadata.key } : {}) })}\n`;
    })
    .join('');
}

/**
 * Runs a job attempt from where its state says it is to its results on disk. The error it ends
 * with says where: a GbsError carries the chunk, and the job once it exists.
 */
export async function runAttempt(
  ref: ChunkRef,
  state: ChunkState,
  attempt: AttemptState,
  ctx: SubmitContext,
): Promise<void> {
  try {
    await attemptSteps(ref, state, attempt, ctx);
  } catch (err) {
    // After an abort the error is the run's (its reason is shared by every chunk), not this chunk's.
    if (ctx.signal.aborted) throw err;
    throw withContext(err, { chunk: ref.index, job: attempt.job });
  }
}

async function attemptSteps(
  ref: ChunkRef,
  state: ChunkState,
  attempt: AttemptState,
  ctx: SubmitContext,
): Promise<void> {
  const save = (durable = false) => ctx.run.saveChunk(state, durable);
  const context = { chunk: ref.index };
  let reuploads = 0;
  for (;;) {
    if (attempt.phase === 'spooled') {
      // A chunk known from an earlier run may have been uploaded before that run stopped.
      const uploaded = await ctx.api.upload(join(ref.dir, attempt.requestsFile), attempt.displayName, {
        ...context,
        mayExist: ref.resumed,
      });
      attempt.file = uploaded.name;
      attempt.phase = 'uploaded';
      save();
      ctx.emit({
        type: 'uploaded',
        chunk: ref.index,
        attempt: attempt.n,
        file: uploaded.name,
        bytes: uploaded.bytes,
      });
    }
    if (attempt.phase === 'uploaded' || attempt.phase === 'creating') {
      // 'creating' on entry: an earlier process may have created the job and died before saving
      // its name. Look for it before creating a second, separately billed one.
      let adopted =
        attempt.phase === 'creating' ? await ctx.api.findByDisplayName(attempt.displayName) : undefined;
      let name = adopted?.name;
      if (!name) {
        attempt.phase = 'creating';
        save(true);
        try {
          const created = await ctx.api.createJob(
            ctx.model,
            attempt.file as string,
            attempt.displayName,
            context,
          );
          name = created.name;
          if (created.adopted) adopted = created;
        } catch (err) {
          // The uploaded file is gone (older than 48 h, or deleted): upload it again, once.
          const cause = (err as { cause?: unknown }).cause;
          if (httpStatusOf(cause) === 403 && reuploads++ === 0) {
            attempt.phase = 'spooled';
            attempt.file = undefined;
            save();
            ctx.emit({
              type: 'warning',
              chunk: ref.index,
              code: 'INPUT_FILE_GONE',
              message: `the uploaded requests file is gone (${describe(cause)}); uploading it again`,
            });
            continue;
          }
          throw err;
        }
      }
      attempt.job = name;
      // The deadline and the time waited count from the job's creation: for a job found again (its
      // create answer lost, perhaps hours ago) that is the server's createTime, never in our future.
      const madeAt = Date.parse(adopted?.createTime ?? '');
      attempt.createdAt = new Date(
        Number.isNaN(madeAt) ? Date.now() : Math.min(madeAt, Date.now()),
      ).toISOString();
      attempt.phase = 'created';
      save();
      if (adopted) ctx.counters.jobsAdopted++;
      else ctx.counters.jobsCreated++;
      ctx.emit({
        type: 'job-created',
        chunk: ref.index,
        attempt: attempt.n,
        job: name,
        displayName: attempt.displayName,
        adopted: adopted !== undefined,
      });
    }
    break;
  }
  if (attempt.phase === 'created') {
    const status = await pollUntilDone(ref, state, attempt, ctx);
    if (status.state !== 'JOB_STATE_SUCCEEDED') {
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'JOB_ENDED_EARLY',
        message: `job ${status.name} ended ${status.state}: ${processedNote(status.stats)}; the answers it gave are kept`,
      });
    }
    attempt.jobState = status.state;
    attempt.endedAt = new Date().toISOString();
    if (status.outputFile) attempt.output = status.outputFile;
    if (status.stats)
      attempt.stats = Object.fromEntries(Object.entries(status.stats).map(([k, v]) => [k, String(v)]));
    if (status.error) attempt.error = status.error;
    const resultsFile = `results-${attempt.n}.jsonl`;
    if (!status.outputFile) {
      // No file to download: inline answers (or none at all, for a failed job) are written now.
      await writeFile(join(ref.dir, resultsFile), status.inline ? inlineToJsonl(status.inline) : '');
      attempt.resultsFile = resultsFile;
      attempt.phase = 'downloaded';
      save();
    } else {
      // Not saved: after a crash the job is simply polled once more (it is finished, so at once).
      attempt.phase = 'terminal';
    }
  }
  if (attempt.phase === 'terminal') {
    const resultsFile = `results-${attempt.n}.jsonl`;
    const bytes = await ctx.api.download(attempt.output as string, join(ref.dir, resultsFile));
    attempt.resultsFile = resultsFile;
    attempt.phase = 'downloaded';
    save();
    ctx.emit({ type: 'downloaded', chunk: ref.index, attempt: attempt.n, job: attempt.job as string, bytes });
  }
  if (attempt.phase === 'downloaded' && ctx.deleteUploadedFiles && attempt.file && !attempt.inputDeleted) {
    try {
      await ctx.api.deleteFile(attempt.file);
      // Saved with the chunk's next state; after a crash the delete is repeated, harmlessly.
      attempt.inputDeleted = true;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'DELETE_FAILED',
        message: `could not delete ${attempt.file}: ${describe(err)}`,
      });
    }
  }
}
