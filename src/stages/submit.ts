// submit: each spooled chunk → its results on disk. Upload, create (adopting a lost create by its
// display name), poll with backoff and jitter, download; the chunk state is saved before and after
// each remote side effect, so a rerun picks up exactly where this one stopped.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GeminiApi, type JobStatus, TERMINAL_JOB_STATES } from '../gemini/api.js';
import { describe, httpStatusOf } from '../gemini/retry.js';
import type { ProgressEvent } from '../progress.js';
import type { AttemptState, ChunkState, RunState } from '../state/run-state.js';
import type { ChunkRef } from './chunk.js';

/** A chunk whose every job attempt has its results on disk (or has none to wait for). */
export interface CompletedChunk {
  ref: ChunkRef;
  state: ChunkState;
}

export interface SubmitContext {
  api: GeminiApi;
  run: RunState;
  model: string;
  maxConcurrentJobs: number;
  ordered: boolean;
  poll: { initial: number; max: number };
  deleteUploadedFiles: boolean;
  cancelOnAbort: boolean;
  signal: AbortSignal;
  /** Aborts `signal`: stops every poller and API call of the run. */
  stop(): void;
  emit(event: ProgressEvent): void;
  counters: { jobsCreated: number; jobsAdopted: number };
}

const KNOWN_STATES = new Set([
  ...TERMINAL_JOB_STATES,
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_QUEUED',
]);

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

async function pollUntilDone(ref: ChunkRef, attempt: AttemptState, ctx: SubmitContext): Promise<JobStatus> {
  const job = attempt.job as string;
  const createdAt = Date.parse(attempt.createdAt ?? new Date().toISOString());
  let delay = ctx.poll.initial;
  let last = '';
  let warnedUnknown = false;
  for (;;) {
    const status = await ctx.api.getJob(job);
    const seen = `${status.state} ${JSON.stringify(status.stats ?? {})}`;
    if (seen !== last) {
      last = seen;
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
    if (TERMINAL_JOB_STATES.has(status.state)) return status;
    await sleep(jitter(delay), undefined, { signal: ctx.signal });
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

async function runAttempt(
  ref: ChunkRef,
  state: ChunkState,
  attempt: AttemptState,
  ctx: SubmitContext,
): Promise<void> {
  const save = () => ctx.run.saveChunk(state);
  const context = { chunk: ref.index };
  let reuploads = 0;
  for (;;) {
    if (attempt.phase === 'spooled') {
      const uploaded = await ctx.api.upload(
        join(ref.dir, attempt.requestsFile),
        attempt.displayName,
        context,
      );
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
      let name = adopted;
      if (!name) {
        attempt.phase = 'creating';
        save();
        try {
          const created = await ctx.api.createJob(
            ctx.model,
            attempt.file as string,
            attempt.displayName,
            context,
          );
          name = created.name;
          if (created.adopted) adopted = created.name;
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
      attempt.createdAt = new Date().toISOString();
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
    const status = await pollUntilDone(ref, attempt, ctx);
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
    } else {
      attempt.phase = 'terminal';
    }
    save();
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
      attempt.inputDeleted = true;
      save();
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

/** Runs every job attempt of a chunk to the point where its results are on disk. */
export async function runChunk(ref: ChunkRef, ctx: SubmitContext): Promise<CompletedChunk> {
  const state = ref.state;
  for (const attempt of state.attempts) {
    if (
      attempt.phase !== 'downloaded' ||
      (ctx.deleteUploadedFiles && attempt.file && !attempt.inputDeleted)
    ) {
      await runAttempt(ref, state, attempt, ctx);
    }
  }
  return { ref, state };
}

interface Running {
  ref: ChunkRef;
  promise: Promise<CompletedChunk>;
  done: boolean;
  failed: boolean;
}

/**
 * Submits chunks with at most `maxConcurrentJobs` in flight; while that many run, no further chunk
 * is pulled, so the chunker, and the source behind it, wait. Yields completed chunks in input
 * order (`ordered`) or as they finish.
 */
export async function* submitChunks(
  chunks: AsyncIterable<ChunkRef>,
  ctx: SubmitContext,
): AsyncGenerator<CompletedChunk> {
  const upstream = chunks[Symbol.asyncIterator]();
  const queue: Running[] = [];
  let pending: Promise<IteratorResult<ChunkRef>> | undefined;
  let upstreamDone = false;
  const active = () => queue.filter((r) => !r.done).length;
  const pull = () => {
    const next = upstream.next();
    // Marked as handled at once: the rejection is read below, maybe after a yield.
    next.catch(() => undefined);
    return next;
  };
  try {
    for (;;) {
      if (!upstreamDone && !pending && active() < ctx.maxConcurrentJobs) pending = pull();
      // Hand out what is ready.
      while (queue.length > 0) {
        const index = ctx.ordered ? (queue[0]?.done ? 0 : -1) : queue.findIndex((r) => r.done);
        if (index < 0) break;
        const [ready] = queue.splice(index, 1) as [Running];
        yield await ready.promise;
        if (!upstreamDone && !pending && active() < ctx.maxConcurrentJobs) pending = pull();
      }
      if (upstreamDone && queue.length === 0) return;
      const waits: Promise<unknown>[] = queue
        .filter((r) => !r.done)
        .map((r) => r.promise.catch(() => undefined));
      let next: IteratorResult<ChunkRef> | undefined;
      let upstreamError: { error: unknown } | undefined;
      if (pending) {
        waits.push(
          pending.then(
            (r) => {
              next = r;
            },
            (error: unknown) => {
              upstreamError = { error };
            },
          ),
        );
      }
      await Promise.race(waits);
      if (upstreamError) {
        pending = undefined;
        upstreamDone = true;
        throw upstreamError.error;
      }
      const failed = queue.find((r) => r.failed);
      if (failed) await failed.promise; // rethrows the chunk's error
      if (next) {
        pending = undefined;
        if (next.done) upstreamDone = true;
        else {
          const ref = next.value;
          const running: Running = { ref, promise: runChunk(ref, ctx), done: false, failed: false };
          running.promise.then(
            () => {
              running.done = true;
            },
            () => {
              running.done = true;
              running.failed = true;
            },
          );
          queue.push(running);
        }
      }
    }
  } finally {
    // Leaving early (an error, an abort, or the consumer stopped): stop the pollers, and cancel
    // the live jobs only if asked to; by default they keep running for a rerun to collect.
    const live = queue.filter((r) => !r.done);
    if (live.length > 0) ctx.stop();
    await Promise.allSettled(live.map((r) => r.promise));
    // Every chunk not handed out yet may hold a live job (also one whose poller died with the abort).
    if (ctx.cancelOnAbort)
      await cancelLive(
        queue.map((r) => r.ref),
        ctx,
      );
    // An async generator runs one request at a time: if a next() is still out, return() waits
    // behind it, so do not wait for that here.
    if (pending)
      pending.then(
        () => upstream.return?.(undefined),
        () => undefined,
      );
    else await upstream.return?.(undefined);
  }
}

async function cancelLive(refs: ChunkRef[], ctx: SubmitContext): Promise<void> {
  // The run's own signal is aborted by now; cancel with a fresh, bounded one.
  const api = ctx.api.withSignal(AbortSignal.timeout(30_000));
  for (const ref of refs) {
    for (const attempt of ref.state.attempts) {
      if (attempt.phase !== 'created' && attempt.phase !== 'creating') continue;
      let job = attempt.job;
      try {
        // A create cut short by the abort may still have made the job: find it by name.
        if (!job && attempt.phase === 'creating') job = await api.findByDisplayName(attempt.displayName);
        if (!job) continue;
        await api.cancel(job);
        ctx.emit({
          type: 'warning',
          chunk: ref.index,
          code: 'JOB_CANCELLED',
          message: `cancelled ${job} (cancelOnAbort)`,
        });
      } catch (err) {
        ctx.emit({
          type: 'warning',
          chunk: ref.index,
          code: 'CANCEL_FAILED',
          message: `could not cancel ${job ?? attempt.displayName}: ${describe(err)}`,
        });
      }
    }
  }
}
