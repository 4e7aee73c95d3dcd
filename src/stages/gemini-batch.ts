// geminiBatch = chunk → submit/await → join, as one object-mode Duplex (BatchItem in, BatchResult
// out), plus the three lower stages for people who compose their own pipeline.

import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import { GbsError } from '../errors.js';
import { GeminiApi } from '../gemini/api.js';
import { defaultClient } from '../gemini/client.js';
import { outputJsonSchema, withJsonSchema } from '../gemini/output-schema.js';
import { describe } from '../gemini/retry.js';
import {
  type GeminiBatchOptions,
  geminiBatchOptionsSchema,
  parseOptions,
  type ResolvedOptions,
} from '../options.js';
import { emptySummary, type ProgressEvent, type RunSummary } from '../progress.js';
import { KeyFilter } from '../state/key-filter.js';
import { KeyIndex } from '../state/key-index.js';
import { RunState } from '../state/run-state.js';
import type { BatchItem, BatchResult } from '../types.js';
import { type BatchedBody, batchedDuplex, flatten, singles } from '../util/duplex.js';
import { digestJson } from '../util/hash.js';
import { type ChunkContext, type ChunkRef, chunkItems } from './chunk.js';
import { type JoinContext, joinChunks } from './join.js';
import { type CompletedChunk, type SubmitContext, submitChunks } from './submit.js';

/** Everything one run's stages share: options, the API, the state directory, the summary. */
export interface BatchRun {
  readonly options: ResolvedOptions;
  readonly summary: RunSummary;
  /** Sends a progress event to `onProgress` and to every stage's 'progress' listeners. */
  emit(event: ProgressEvent): void;
  /** @internal */ contexts(
    signal: AbortSignal,
  ): Promise<{ chunk: ChunkContext; submit: SubmitContext; join: JoinContext }>;
  /** @internal */ attach(stream: Duplex): void;
  /** Gives back the state directory's lock; called when the run's last stage ends. */
  close(): void;
  /** The JSON Schema sent for `outputSchema`, if any. */
  readonly jsonSchema: Record<string, unknown> | undefined;
}

/** Asks for structured output on every request that does not choose its own schema. */
async function* withStructuredOutput(
  batches: AsyncIterable<BatchItem[]>,
  schema: Record<string, unknown>,
): AsyncGenerator<BatchItem[]> {
  for await (const batch of batches) {
    yield batch.map((item) => {
      if (!item?.request || item.error) return item;
      const request = withJsonSchema(item.request, schema);
      return request === item.request ? item : { ...item, request };
    });
  }
}

/**
 * Validates options and prepares a run: the shared context of {@link chunkRequests},
 * {@link submitBatches} and {@link joinResults}. {@link geminiBatch} does this for you.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { createBatchRun, chunkRequests, submitBatches, joinResults, csvSource, toRequests, jsonlSink } from 'gemini-batch-stream';
 *
 * const run = createBatchRun({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/reviews' });
 * await pipeline(csvSource('reviews.csv'), toRequests((r) => `Classify: ${r.review}`), chunkRequests(run), submitBatches(run), joinResults(run), jsonlSink('out.jsonl'));
 * console.log(run.summary);
 * ```
 */
export function createBatchRun(options: GeminiBatchOptions): BatchRun {
  const opts = parseOptions(geminiBatchOptionsSchema, options, 'geminiBatch');
  const client = opts.client ?? defaultClient();
  const summary = emptySummary();
  const streams: Duplex[] = [];
  let opening: Promise<RunState> | undefined;
  let keyIndex: KeyIndex | undefined;
  let opened: RunState | undefined;
  const keyFilter = new KeyFilter(opts.keyFilterBytes);
  const poll =
    typeof opts.pollIntervalMs === 'number'
      ? { initial: opts.pollIntervalMs, max: opts.pollIntervalMs }
      : opts.pollIntervalMs;
  const emit = (event: ProgressEvent) => {
    opts.onProgress?.(event);
    for (const s of streams) s.emit('progress', event);
  };
  const jsonSchema = opts.outputSchema ? outputJsonSchema(opts.outputSchema) : undefined;
  return {
    options: opts,
    jsonSchema,
    summary,
    emit,
    attach(stream) {
      streams.push(stream);
    },
    close() {
      opened?.release();
    },
    async contexts(streamSignal) {
      const controller = new AbortController();
      const signal = AbortSignal.any([
        streamSignal,
        controller.signal,
        ...(opts.signal ? [opts.signal] : []),
      ]);
      // Each job holds at most a couple of listeners at a time (a poll's sleep, a call's retry
      // loop); more than that is a leak worth the warning.
      setMaxListeners(2 * opts.maxConcurrentJobs + 10, signal);
      opening ??= RunState.open(opts.stateDir, {
        fingerprint: {
          model: opts.model,
          maxRequestsPerJob: opts.maxRequestsPerJob,
          maxBytesPerJob: opts.maxBytesPerJob,
          outputSchema: jsonSchema ? digestJson(jsonSchema) : null,
        },
        onStateMismatch: opts.onStateMismatch,
        signal,
      });
      // The stages of one run open its state once (and so take its lock once).
      const run = await opening;
      opened = run;
      keyIndex ??= new KeyIndex(run);
      const api = new GeminiApi(client, {
        signal,
        policy: opts.retry,
        onRetry: ({ operation, attempt, delayMs, error }) =>
          emit({ type: 'retry', operation, attempt, delayMs, error: describe(error) }),
      });
      return {
        chunk: {
          run,
          maxRequestsPerJob: opts.maxRequestsPerJob,
          maxBytesPerJob: opts.maxBytesPerJob,
          keyFilter,
          keyIndex,
          emit,
        },
        submit: {
          api,
          run,
          model: opts.model,
          maxConcurrentJobs: opts.maxConcurrentJobs,
          ordered: opts.ordered,
          poll,
          deleteUploadedFiles: opts.deleteUploadedFiles,
          cancelOnAbort: opts.cancelOnAbort,
          maxJobAttempts: opts.maxJobAttempts,
          maxRowAttempts: opts.maxRowAttempts,
          jobDeadlineMs: opts.jobDeadlineMs,
          onJobDeadline: opts.onJobDeadline,
          signal,
          stop: () => controller.abort(new GbsError('GBS_ABORTED', 'The run stopped.')),
          emit,
          counters: summary,
        },
        join: { outputSchema: opts.outputSchema, includeResponse: opts.includeResponse, emit, summary },
      };
    },
  };
}

function stage<I, O>(run: BatchRun, body: BatchedBody<I, O>): Duplex {
  const duplex = batchedDuplex(body, { signal: run.options.signal });
  run.attach(duplex);
  return duplex;
}

/** BatchItems → ChunkRefs: spools each job's requests to the state directory. */
export function chunkRequests(run: BatchRun): Duplex {
  return stage<BatchItem, ChunkRef>(run, async function* (items, signal) {
    const ctx = await run.contexts(signal);
    yield* singles(
      chunkItems(run.jsonSchema ? withStructuredOutput(items, run.jsonSchema) : items, ctx.chunk),
    );
  });
}

/** ChunkRefs → CompletedChunks: uploads, creates, polls and downloads, `maxConcurrentJobs` at a time. */
export function submitBatches(run: BatchRun): Duplex {
  return stage<ChunkRef, CompletedChunk>(run, async function* (chunks, signal) {
    yield* singles(submitChunks(flatten(chunks), (await run.contexts(signal)).submit));
  });
}

/** CompletedChunks → BatchResults, one per input row, joined by key. Emits 'done' with the summary at the end. */
export function joinResults(run: BatchRun): Duplex {
  return stage<CompletedChunk, BatchResult>(run, async function* (chunks, signal) {
    try {
      yield* joinChunks(flatten(chunks), (await run.contexts(signal)).join);
      run.emit({ type: 'done', summary: run.summary });
    } finally {
      run.close();
    }
  });
}

/**
 * The batch stage: BatchItems in, one BatchResult per item out. Spools requests into chunks in
 * `stateDir`, runs one Batch API job per chunk (`maxConcurrentJobs` at a time; while that many
 * run, it stops reading its input), joins the answers back by key, and emits results in input
 * order (or as chunks finish, with `ordered: false`). Rerun with the same `stateDir` to resume.
 *
 * Emits 'progress' events (also passed to `onProgress`); the last is `{ type: 'done', summary }`.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { z } from 'zod';
 * import { csvSource, toRequests, geminiBatch, jsonlSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   csvSource('reviews.csv'),
 *   toRequests((row) => `Classify the sentiment of: ${row.review}`, { key: (row) => row.id }),
 *   geminiBatch({
 *     model: 'gemini-2.5-flash',
 *     stateDir: '.gemini-batch/reviews',
 *     outputSchema: z.object({ sentiment: z.enum(['positive', 'negative', 'neutral']) }),
 *     onProgress: (e) => console.error(e.type),
 *   }),
 *   jsonlSink('reviews.out.jsonl'),
 * );
 * ```
 */
export function geminiBatch(options: GeminiBatchOptions): Duplex {
  const run = createBatchRun(options);
  return stage<BatchItem, BatchResult>(run, async function* (items, signal) {
    try {
      const ctx = await run.contexts(signal);
      const source = run.jsonSchema ? withStructuredOutput(items, run.jsonSchema) : items;
      yield* joinChunks(submitChunks(chunkItems(source, ctx.chunk), ctx.submit), ctx.join);
      run.emit({ type: 'done', summary: run.summary });
    } finally {
      run.close();
    }
  });
}
