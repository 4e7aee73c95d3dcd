// geminiOnline: the sibling of geminiBatch for previews and small jobs. Each request goes to
// `models.generateContent` (at most `concurrency` at once, retried on 429/5xx), and comes out as the
// same BatchResult, in input order. With `stateDir`, answered rows are kept so a rerun skips them.

import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  type ReadStream,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { GoogleGenAI } from '@google/genai';
import pLimit from 'p-limit';
import { z } from 'zod';
import { GbsError } from '../errors.js';
import { interpret } from '../gemini/result.js';
import {
  type AttemptInfo,
  apiErrorBody,
  describe,
  httpStatusOf,
  isTransient,
  withRetry,
} from '../gemini/retry.js';
import { geminiBatchOptionsSchema, parseOptions } from '../options.js';
import { emptySummary, type ProgressEvent, type RunSummary } from '../progress.js';
import { fsyncDir } from '../state/files.js';
import type { BatchItem, BatchResult, RestRequest } from '../types.js';
import { generatorDuplex } from '../util/duplex.js';
import { processAlive } from '../util/process.js';
import { outputJsonSchema } from './gemini-batch.js';

export const geminiOnlineOptionsSchema = geminiBatchOptionsSchema
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

type Json = Record<string, unknown>;

/** One answered row as kept on disk: key, request digest, and the API's answer or error. */
interface StoredAnswer {
  k: string;
  h: string;
  response?: Json;
  error?: { code?: number; message?: string };
}

const GRPC_CODES: Record<string, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

const FLUSH_ROWS = 64;
const FLUSH_MS = 1000;

/** An ordered stream of one answers file: only its next line is held. */
class SegmentReader {
  private head: StoredAnswer | undefined;
  private ended = false;
  private constructor(
    private readonly input: ReadStream,
    private readonly lines: AsyncIterator<string>,
  ) {}

  static open(path: string): SegmentReader {
    const input = createReadStream(path);
    const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    return new SegmentReader(input, rl[Symbol.asyncIterator]());
  }

  async peek(): Promise<StoredAnswer | undefined> {
    while (!this.head && !this.ended) {
      const next = await this.lines.next();
      if (next.done) this.ended = true;
      else if (next.value) {
        try {
          this.head = JSON.parse(next.value) as StoredAnswer;
        } catch {
          // A line cut short by a crash is the file's end.
          this.ended = true;
        }
      }
    }
    return this.head;
  }

  advance(): void {
    this.head = undefined;
  }

  close(): void {
    this.ended = true;
    void this.lines.return?.();
    this.input.destroy();
  }
}

/**
 * The answers of earlier runs, read alongside the input, and this run's answers file. Each run
 * writes every answered row (replayed or new) in input order to a new `answers-N.jsonl`, so each
 * file is an ordered subsequence of the input and is matched against it like a merge: memory holds
 * one line per file, never a set of keys. An older file read to its end is superseded and removed.
 */
class AnswerStore {
  private buffer = '';
  private rows = 0;
  private written = 0;
  private lastFlush = Date.now();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly older: Array<{ path: string; reader: SegmentReader }>,
    private readonly path: string,
    private readonly file: FileHandle,
  ) {}

  static async open(stateDir: string): Promise<AnswerStore> {
    const dir = join(stateDir, 'online');
    mkdirSync(dir, { recursive: true });
    lock(dir);
    try {
      const numbers = readdirSync(dir)
        .map((n) => /^answers-(\d{6})\.jsonl$/.exec(n)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => b - a);
      const name = (n: number) => join(dir, `answers-${String(n).padStart(6, '0')}.jsonl`);
      const path = name((numbers[0] ?? 0) + 1);
      const file = await open(path, 'wx');
      fsyncDir(dir);
      const older = numbers.map((n) => ({ path: name(n), reader: SegmentReader.open(name(n)) }));
      return new AnswerStore(dir, older, path, file);
    } catch (err) {
      unlock(dir);
      throw err;
    }
  }

  /** The answer an earlier run got for this row (same key, same request), if any; call in input order. */
  async lookup(key: string, hash: string): Promise<StoredAnswer | undefined> {
    let found: StoredAnswer | undefined;
    // Newest first: a later run's answer for a key wins. Every file whose next line is this key moves on.
    for (const { reader } of this.older) {
      const head = await reader.peek();
      if (head?.k !== key) continue;
      reader.advance();
      if (!found && head.h === hash) found = head;
    }
    return found;
  }

  async append(answer: StoredAnswer): Promise<void> {
    this.buffer += `${JSON.stringify(answer)}\n`;
    this.rows++;
    if (this.rows - this.written >= FLUSH_ROWS || Date.now() - this.lastFlush >= FLUSH_MS) await this.flush();
  }

  async flush(): Promise<void> {
    this.lastFlush = Date.now();
    if (!this.buffer) return;
    const text = this.buffer;
    this.buffer = '';
    await this.file.write(text);
    await this.file.sync();
    this.written = this.rows;
  }

  /**
   * Flushes and closes. An older file read to its end is superseded by this run's (each of its
   * answers was written again here, or was for a request that changed) and is removed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let flushed = false;
    try {
      await this.flush();
      flushed = true;
    } finally {
      await this.file.close();
      const remove: string[] = [];
      for (const { path, reader } of this.older) {
        const ended = flushed && (await reader.peek().catch(() => null)) === undefined;
        if (ended) remove.push(path);
        reader.close();
      }
      if (this.rows === 0) remove.push(this.path);
      for (const path of remove) rmSync(path, { force: true });
      if (remove.length > 0) fsyncDir(this.dir);
      unlock(this.dir);
    }
  }
}

/** `online/lock`: one run per state directory; a dead process's lock is taken over. */
function lock(dir: string): void {
  const path = join(dir, 'lock');
  const me = { pid: process.pid, host: hostname() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      // Cut short by a crash: nobody holds it.
    }
    if (holder.host === me.host && typeof holder.pid === 'number' && processAlive(holder.pid)) {
      throw new GbsError(
        'GBS_STATE_LOCKED',
        `The online answers in ${dir} are in use by ${holder.pid === process.pid ? 'another run in this process' : `process ${holder.pid}`}. Wait for it, or use another stateDir.`,
      );
    }
    rmSync(path, { force: true });
  }
  throw new GbsError('GBS_STATE_LOCKED', `Could not lock ${dir}.`);
}

function unlock(dir: string): void {
  rmSync(join(dir, 'lock'), { force: true });
}

function defaultClient(): GoogleGenAI {
  if (!process.env.GEMINI_API_KEY && !process.env.GOOGLE_API_KEY) {
    throw new GbsError(
      'GBS_NO_API_KEY',
      'No API key: set GEMINI_API_KEY, or pass `client` (e.g. new GoogleGenAI(emulator.clientOptions()) for the local emulator).',
    );
  }
  return new GoogleGenAI({});
}

interface Context {
  client: GoogleGenAI;
  model: string;
  jsonSchema: Record<string, unknown> | undefined;
  interpretOptions: { outputSchema?: z.ZodType | undefined; includeResponse: boolean };
  retry: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  signal: AbortSignal;
  stop: () => void;
  limit: ReturnType<typeof pLimit>;
  window: number;
  store: AnswerStore | undefined;
  summary: RunSummary;
  emit: (event: ProgressEvent) => void;
}

/** What became of one row: its result, and the answer to keep (absent: not kept, a rerun sends it again). */
interface Outcome {
  result: BatchResult;
  answer?: StoredAnswer;
}

/** A fetch for one call that notes Retry-After and keeps the raw JSON answer (the REST response, as batch results carry it). */
function capturingFetch(info: AttemptInfo, seen: { body?: Json }): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    info.retryAfter = res.headers.get('retry-after');
    if (res.ok) {
      try {
        seen.body = JSON.parse(await res.clone().text()) as Json;
      } catch {
        // The SDK reports an unreadable answer itself (and it is retried).
      }
    }
    return res;
  };
}

/** Failures that concern every row (a bad key, an unknown model): the run stops instead. */
function stopsTheRun(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status === 401 || status === 403 || status === 404) return true;
  const details = apiErrorBody(err)?.details ?? [];
  return details.some((d) => (d as { reason?: string }).reason === 'API_KEY_INVALID');
}

async function ask(item: BatchItem, request: RestRequest, hash: string, ctx: Context): Promise<Outcome> {
  ctx.signal.throwIfAborted();
  const { contents, model, ...rest } = request;
  const seen: { body?: Json } = {};
  let line: StoredAnswer;
  try {
    await withRetry(
      'models.generateContent',
      async (info) => {
        seen.body = undefined;
        const response = await ctx.client.models.generateContent({
          model: typeof model === 'string' ? model : ctx.model,
          contents: contents as never,
          // The request is already in REST form: what toRequests made is sent as it is.
          config: {
            httpOptions: { fetch: capturingFetch(info, seen), extraBody: rest },
            abortSignal: info.signal,
          },
        });
        if (!seen.body) {
          const { sdkHttpResponse: _drop, ...plain } = JSON.parse(JSON.stringify(response)) as Json;
          seen.body = plain;
        }
      },
      {
        signal: ctx.signal,
        policy: ctx.retry,
        onRetry: ({ operation, attempt, delayMs, error }) =>
          ctx.emit({ type: 'retry', operation, attempt, delayMs, error: describe(error) }),
      },
    );
    line = { k: item.key, h: hash, response: seen.body as Json };
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (stopsTheRun(cause)) throw err;
    const body = apiErrorBody(cause);
    const error = { code: GRPC_CODES[body?.status ?? ''], message: body?.message ?? describe(cause) };
    if (isTransient(cause)) {
      // Not kept: a rerun sends this row again.
      const message = `${error.message} (still failing after ${ctx.retry.retries + 1} tries)`;
      return {
        result: finish(
          interpret({ error: { ...error, message } }, ctx.interpretOptions, item.key, item.row),
          item,
        ),
      };
    }
    line = { k: item.key, h: hash, error };
  }
  return { result: replay(line, item, ctx), answer: line };
}

function finish(result: BatchResult, item: BatchItem): BatchResult {
  if (result.error && item.line !== undefined) result.error.line = item.line;
  return result;
}

function replay(line: StoredAnswer, item: BatchItem, ctx: Context): BatchResult {
  const answer = line.error ? { error: line.error } : { response: line.response };
  return finish(interpret(answer, ctx.interpretOptions, item.key, item.row), item);
}

function withStructuredOutput(
  request: RestRequest,
  schema: Record<string, unknown> | undefined,
): RestRequest {
  if (!schema) return request;
  const config = (request.generationConfig ?? {}) as Json;
  if (config.responseJsonSchema !== undefined || config.responseSchema !== undefined) return request;
  return {
    ...request,
    generationConfig: { ...config, responseMimeType: 'application/json', responseJsonSchema: schema },
  };
}

interface Slot {
  settled: boolean;
  outcome?: Outcome;
  failure?: unknown;
  done: Promise<void>;
}

/** Starts one row: an error item or a kept answer settles at once; the rest wait for a request slot. */
async function start(item: BatchItem, ctx: Context): Promise<Slot> {
  let outcome: Promise<Outcome>;
  if (item.error || !item.request) {
    const error = item.error ?? {
      stage: 'build',
      code: 'GBS_BUILD_FAILED',
      message: 'the item has no request',
    };
    outcome = Promise.resolve({ result: { key: item.key, row: item.row, ok: false, error } });
  } else {
    const request = withStructuredOutput(item.request, ctx.jsonSchema);
    const model = typeof request.model === 'string' ? request.model : ctx.model;
    const hash = createHash('sha256')
      .update(JSON.stringify([model, request]))
      .digest('hex')
      .slice(0, 16);
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

function count(s: RunSummary, result: BatchResult): void {
  s.rows++;
  if (result.ok) s.succeeded++;
  else {
    s.failed++;
    const code = result.error?.code;
    if (code) s.failedByCode[code] = (s.failedByCode[code] ?? 0) + 1;
  }
  if (result.usage) {
    for (const k of Object.keys(s.usage) as Array<keyof RunSummary['usage']>) s.usage[k] += result.usage[k];
  }
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
        count(ctx.summary, slot.outcome.result);
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
 * previews and small jobs). At most `concurrency` requests run at once; 408/429/5xx and network
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
  const duplex: Duplex = generatorDuplex<BatchItem, BatchResult>(async function* (items, streamSignal) {
    const local = new AbortController();
    const signal = AbortSignal.any([streamSignal, local.signal, ...(opts.signal ? [opts.signal] : [])]);
    // One listener per request in flight (its retry loop), plus the window's.
    setMaxListeners(2 * opts.concurrency + 10, signal);
    const store = opts.stateDir ? await AnswerStore.open(opts.stateDir) : undefined;
    const ctx: Context = {
      client,
      model: opts.model,
      jsonSchema,
      interpretOptions: { outputSchema: opts.outputSchema, includeResponse: opts.includeResponse },
      retry: opts.retry,
      signal,
      stop: () => local.abort(new GbsError('GBS_ABORTED', 'The run stopped.')),
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
  });
  function emit(event: ProgressEvent): void {
    opts.onProgress?.(event);
    duplex.emit('progress', event);
  }
  return duplex;
}
