// geminiOnline: the sibling of geminiBatch for previews and small jobs. Each request goes to
// `models.generateContent` (at most `concurrency` at once, retried on 429/5xx), and comes out as the
// same BatchResult, in input order. With `stateDir`, answered rows are kept so a rerun skips them.

import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { GoogleGenAI } from '@google/genai';
import pLimit from 'p-limit';
import { z } from 'zod';
import { GbsError } from '../errors.js';
import { defaultClient } from '../gemini/client.js';
import { outputJsonSchema, withJsonSchema } from '../gemini/output-schema.js';
import { geminiBatchOptionsSchema, parseOptions } from '../options.js';
import { countResult, emptySummary, type ProgressEvent } from '../progress.js';
import { AnswerStore, requestDigest } from '../state/online-answers.js';
import type { BatchItem, BatchResult } from '../types.js';
import { generatorDuplex } from '../util/duplex.js';
import { ask, type Context, type Outcome, replay } from './online-ask.js';

const geminiOnlineOptionsSchema = geminiBatchOptionsSchema
  .pick({
    model: true,
    outputSchema: true,
    includeResponse: true,
    retry: true,
    signal: true,
    onProgress: true,
  })
  .extend({
    client: z
      .custom<GoogleGenAI>(
        (v) => typeof v === 'object' && v !== null && 'models' in v,
        'expected a GoogleGenAI client',
      )
      .optional(),
    /** Requests in flight at once. */
    concurrency: z.number().int().min(1).max(1000).default(8),
    /** Where answered rows are kept (`online/answers-N.jsonl`) so a rerun does not send them again. */
    stateDir: z.string().min(1).optional(),
  });

/** Options of {@link geminiOnline}. */
export type GeminiOnlineOptions = z.input<typeof geminiOnlineOptionsSchema>;

interface Slot {
  settled: boolean;
  outcome?: Outcome;
  failure?: unknown;
  done: Promise<void>;
}

/** Starts one row: an error item or a kept answer settles at once; the rest wait for a request slot. */
async function start(item: BatchItem, ctx: Context): Promise<Slot> {
  if (typeof item.key !== 'string' || item.key === '') {
    throw new GbsError(
      'GBS_EMPTY_KEY',
      `A batch item has an empty or non-string key (${JSON.stringify(item.key)}); keys must be non-empty strings.`,
      item.line !== undefined ? { line: item.line } : {},
    );
  }
  let outcome: Promise<Outcome>;
  if (item.error || !item.request) {
    const error = item.error ?? {
      stage: 'build',
      code: 'GBS_BUILD_FAILED',
      message: 'the item has no request',
    };
    outcome = Promise.resolve({ result: { key: item.key, row: item.row, ok: false, error } });
    // Earlier answers for this key are passed over: the answers files are read in input order.
    await ctx.store?.skip(item.key);
  } else {
    const request = withJsonSchema(item.request, ctx.jsonSchema);
    const model = typeof request.model === 'string' ? request.model : ctx.model;
    // The digest only matters to the answer store: without a stateDir no row pays for it.
    const hash = ctx.store ? requestDigest(model, request) : '';
    const kept = await ctx.store?.lookup(item.key, hash);
    outcome = kept
      ? Promise.resolve({ result: replay(kept, item, ctx), answer: kept })
      : ctx.limit(() => ask(item, request, hash, ctx));
  }
  const slot: Slot = { settled: false, done: Promise.resolve() };
  slot.done = outcome.then(
    (o) => {
      slot.outcome = o;
      slot.settled = true;
    },
    (err: unknown) => {
      slot.failure = err;
      slot.settled = true;
    },
  );
  return slot;
}

/**
 * The core of geminiOnline: BatchItems → BatchResults in input order. Rows are started in order,
 * at most `concurrency` requests run at once, and at most `window` rows are started and not yet
 * emitted (answers behind a slow one wait there): memory is bounded by the window.
 */
async function* answerInOrder(items: AsyncIterable<BatchItem>, ctx: Context): AsyncGenerator<BatchResult> {
  const iterator = items[Symbol.asyncIterator]();
  const window: Slot[] = [];
  let exhausted = false;
  let reading: Promise<void> | undefined;
  let next: IteratorResult<BatchItem> | undefined;
  try {
    for (;;) {
      while (window[0]?.settled) {
        const slot = window.shift() as Slot;
        if (!slot.outcome) throw slot.failure;
        if (slot.outcome.answer) await ctx.store?.append(slot.outcome.answer);
        countResult(ctx.summary, slot.outcome.result);
        yield slot.outcome.result;
      }
      if (next) {
        const got = next;
        next = undefined;
        reading = undefined;
        if (got.done) exhausted = true;
        else window.push(await start(got.value, ctx));
        continue;
      }
      if (exhausted && window.length === 0) return;
      if (!exhausted && !reading && window.length < ctx.window) {
        reading = iterator.next().then((r) => {
          next = r;
        });
        reading.catch(() => undefined);
      }
      await Promise.race([...(reading ? [reading] : []), ...(window[0] ? [window[0].done] : [])]);
    }
  } finally {
    // Stop what is in flight, and keep what was answered but not emitted (a rerun replays it).
    ctx.stop();
    await Promise.all(window.map((s) => s.done));
    try {
      for (const s of window) if (s.outcome?.answer) await ctx.store?.append(s.outcome.answer);
    } catch {
      // The run is failing already; its own error is the one to report.
    }
  }
}

/**
 * The online stage: BatchItems in, one BatchResult per item out, in input order — the same records
 * as {@link geminiBatch}, from interactive `models.generateContent` calls (interactive price: for
 * previews and small jobs). At most `concurrency` requests run at once; 408/429/500/502/503/504 and network
 * failures are retried (waiting what Retry-After / RetryInfo asks). A request the API refuses
 * becomes an error record; a bad API key or an unknown model stops the run.
 *
 * With `stateDir`, each answered row is kept in `stateDir/online/`; a rerun replays those and
 * sends only the rest. Emits `retry` progress events and `{ type: 'done', summary }` at the end.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { csvSource, toRequests, geminiOnline, jsonlSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   csvSource('reviews.csv', { to: 20 }), // a preview: the first 20 rows
 *   toRequests((row) => `Classify the sentiment of: ${row.review}`, { key: (row) => row.id }),
 *   geminiOnline({ model: 'gemini-2.5-flash', concurrency: 4, stateDir: '.gemini-batch/preview' }),
 *   jsonlSink('preview.jsonl'),
 * );
 * ```
 */
export function geminiOnline(options: GeminiOnlineOptions): Duplex {
  const opts = parseOptions(geminiOnlineOptionsSchema, options, 'geminiOnline');
  const client = opts.client ?? defaultClient();
  const jsonSchema = opts.outputSchema ? outputJsonSchema(opts.outputSchema) : undefined;
  const summary = emptySummary();
  const duplex: Duplex = generatorDuplex<BatchItem, BatchResult>(
    async function* (items, streamSignal) {
      const local = new AbortController();
      const signal = AbortSignal.any([streamSignal, local.signal, ...(opts.signal ? [opts.signal] : [])]);
      // One listener per request in flight (its retry loop), plus the window's.
      setMaxListeners(2 * opts.concurrency + 10, signal);
      const store = opts.stateDir ? await AnswerStore.open(opts.stateDir, signal) : undefined;
      const ctx: Context = {
        client,
        model: opts.model,
        jsonSchema,
        interpretOptions: { outputSchema: opts.outputSchema, includeResponse: opts.includeResponse },
        retry: opts.retry,
        signal,
        stop: (reason?: unknown) => local.abort(reason ?? new GbsError('GBS_ABORTED', 'The run stopped.')),
        limit: pLimit(opts.concurrency),
        window: 4 * opts.concurrency,
        store,
        summary,
        emit,
      };
      try {
        yield* answerInOrder(items, ctx);
        await store?.close();
        emit({ type: 'done', summary });
      } finally {
        await store?.close();
      }
    },
    { signal: opts.signal },
  );
  function emit(event: ProgressEvent): void {
    opts.onProgress?.(event);
    duplex.emit('progress', event);
  }
  return duplex;
}
