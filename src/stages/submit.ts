// submit: each spooled chunk → its results on disk. Upload, create (adopting a lost create by its
// display name), poll with backoff and jitter, download; the chunk state is saved before and after
// each remote side effect, so a rerun picks up exactly where this one stopped.

import { setTimeout as sleep } from 'node:timers/promises';
import type { GeminiApi } from '../gemini/api.js';
import { describe } from '../gemini/retry.js';
import { type ProgressEvent, processedNote } from '../progress.js';
import type { AttemptState, ChunkState, RunState } from '../state/run-state.js';
import { type AnswerIndex, indexAnswers, readRowKeys } from './answers.js';
import type { ChunkRef } from './chunk.js';
import { runAttempt } from './job-attempt.js';
import { planResubmission } from './resubmit.js';

/** A chunk whose every job attempt has its results on disk (or has none to wait for). */
export interface CompletedChunk {
  ref: ChunkRef;
  state: ChunkState;
  /** Where each row's answer is (absent for a chunk with no requests). */
  answers?: AnswerIndex;
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
  maxJobAttempts: number;
  maxRowAttempts: number;
  jobDeadlineMs: number;
  onJobDeadline: 'resubmit' | 'error';
  signal: AbortSignal;
  /** Aborts `signal`: stops every poller and API call of the run. */
  stop(): void;
  emit(event: ProgressEvent): void;
  counters: { jobsCreated: number; jobsAdopted: number };
}

/** The chunk's key map is no longer needed once its answers are indexed: let it go. */
function done(ref: ChunkRef, state: ChunkState, answers: AnswerIndex): CompletedChunk {
  ref.rowKeys = undefined;
  return { ref, state, answers };
}

/** An attempt with work left: not downloaded yet, or its uploaded file still to delete. */
function unfinished(attempt: AttemptState, ctx: SubmitContext): boolean {
  return (
    attempt.phase !== 'downloaded' || (ctx.deleteUploadedFiles && !!attempt.file && !attempt.inputDeleted)
  );
}

/**
 * Runs a chunk's job attempts until every key has its final answer on disk: after each job, the
 * keys it left unanswered (a FAILED / CANCELLED / EXPIRED job, a deadline, a lost line) or answered
 * with an error worth another try go to a new job, within maxJobAttempts / maxRowAttempts.
 */
export async function runChunk(ref: ChunkRef, ctx: SubmitContext): Promise<CompletedChunk> {
  const state = ref.state;
  let answers: AnswerIndex | undefined;
  for (;;) {
    for (const attempt of state.attempts) {
      if (unfinished(attempt, ctx)) await runAttempt(ref, state, attempt, ctx);
    }
    if (state.attempts.length === 0) return { ref, state };
    // Where every answer is: what the plan below needs, and what the join needs after it. Each
    // pass reads only the results of the attempts added since the last.
    ref.rowKeys ??= await readRowKeys(ref.dir);
    answers = await indexAnswers(ref.dir, state, !state.settled, ref.rowKeys, answers, ref.unsent);
    if (state.settled) return done(ref, state, answers);
    const next = await planResubmission(ref, state, answers, ctx);
    if (next) state.attempts.push(next);
    else state.settled = true;
    ctx.run.saveChunk(state);
    if (!next) return done(ref, state, answers);
  }
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
            (completed) => {
              running.done = true;
              // Finished behind a slower chunk (ordered): it waits on disk, not in memory; the join
              // indexes its answers again when its turn comes.
              if (ctx.ordered && queue[0] !== running) completed.answers = undefined;
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

/** A create in doubt when the run stopped: how many more times, and how often, its job is looked for. */
const CREATE_LOOKS = 3;
const CREATE_LOOK_MS = 1000;

async function cancelLive(refs: ChunkRef[], ctx: SubmitContext): Promise<void> {
  // The run's own signal is aborted by now; cancel with a fresh, bounded one. All at once: one
  // slow or refused cancel (a long Retry-After) must not keep the others from being sent.
  const api = ctx.api.withSignal(AbortSignal.timeout(30_000));
  const live = refs.flatMap((ref) =>
    ref.state.attempts
      .filter((a) => a.phase === 'created' || a.phase === 'creating')
      .map((attempt) => ({ ref, attempt })),
  );
  const cancelled = await Promise.all(
    live.map(async ({ ref, attempt }) => {
      let job: string | undefined;
      try {
        // A create cut short by the abort may still have made the job: jobOf finds it by name. The
        // server may finish that create after a first look, so a job not found is looked for again.
        job = await api.jobOf(attempt);
        for (let look = 1; !job && !attempt.job && look <= CREATE_LOOKS; look++) {
          await sleep(CREATE_LOOK_MS, undefined, { signal: api.signal });
          job = await api.jobOf(attempt);
        }
        if (!job) return undefined;
        await api.cancel(job);
        return { chunk: ref.index, job };
      } catch (err) {
        ctx.emit({
          type: 'warning',
          chunk: ref.index,
          code: 'CANCEL_FAILED',
          message: `could not cancel ${job ?? attempt.displayName}: ${describe(err)}`,
        });
        return undefined;
      }
    }),
  );
  // Then what each had processed by then, which may be billed: one try each, all at once, on a
  // budget of their own, so a slow or failing batches.get never keeps a job from being cancelled.
  const once = ctx.api.withSignal(AbortSignal.timeout(10_000), {
    retries: 0,
    minTimeoutMs: 0,
    maxTimeoutMs: 0,
  });
  const done = cancelled.filter((c): c is { chunk: number; job: string } => c !== undefined);
  const stats = await Promise.all(
    done.map(({ job }) =>
      once.getJob(job).then(
        (s) => s.stats,
        () => undefined,
      ),
    ),
  );
  for (const [i, { chunk, job }] of done.entries()) {
    ctx.emit({
      type: 'warning',
      chunk,
      code: 'JOB_CANCELLED',
      message: `cancelled ${job} (cancelOnAbort): ${processedNote(stats[i])}`,
    });
  }
}
