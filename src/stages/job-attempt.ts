// One job attempt of a chunk, from its spooled requests file to its results on disk: upload,
// create (adopting a create whose answer was lost), poll (with a deadline), download.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withContext } from '../errors.js';
import type { JobStatus } from '../gemini/job-status.js';
import { describe, httpStatusOf } from '../gemini/retry.js';
import { processedNote } from '../progress.js';
import type { AttemptState, ChunkState } from '../state/run-state.js';
import type { ChunkRef } from './chunk.js';
import { pollUntilDone } from './poll-job.js';
import type { SubmitContext } from './submit.js';

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
    if (status.state !== 'JOB_STATE_SUCCEEDED' && !status.gone) {
      ctx.emit({
        type: 'warning',
        chunk: ref.index,
        code: 'JOB_ENDED_EARLY',
        message: `job ${status.name} ended ${status.state}: ${processedNote(status.stats)}; whatever answers it has are kept`,
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
