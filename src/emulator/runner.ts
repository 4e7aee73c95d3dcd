// Drives each batch through PENDING → RUNNING → SUCCEEDED (or CANCELLED / EXPIRED / FAILED): reads
// its requests (job-requests.ts), asks the fake model, hands the results to a sink (result-sinks.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import { fakeEmbedContent, fakeGenerateContent, isObject } from './fake-model.js';
import type { JobFaultEffect } from './fault-options.js';
import { effectOf } from './faults.js';
import { type ResultItem, ResultShaper } from './job-faults.js';
import { readRequests } from './job-requests.js';
import { FileSink, InlineSink, type Sink } from './result-sinks.js';
import { type RpcStatus, rpcStatus } from './rpc.js';
import { type BatchRecord, type BatchState, type Store, TERMINAL_STATES } from './store.js';
import { nowIso } from './wire.js';

export interface RunnerOptions {
  /** Time a job stays PENDING before it starts (ms). */
  pendingMs: number;
  /** Least time a job spends RUNNING (ms); requests are paced over it so `batchStats` moves. */
  runningMs: number;
  /** A job pending or running longer than this ends EXPIRED (the real API: 48 h). */
  expireAfterMs: number;
  /** How long files live (the real API: 48 h). */
  fileTtlMs: number;
  embeddingDimensions: number;
}

type StopReason = 'cancel' | 'delete' | 'close';

/** The Operation `error` of a cancelled job, and of an expired one. */
const CANCELLED_ERROR = rpcStatus('CANCELLED', 'The batch was cancelled.');
const EXPIRED_ERROR = rpcStatus(
  'DEADLINE_EXCEEDED',
  'The batch expired: it was pending or running for too long.',
);

/** The outcome of one request: the result line's payload and whether it counts as a success. */
export interface LineOutcome {
  key: unknown;
  body: { response: unknown } | { error: RpcStatus };
}

export class Runner {
  private readonly jobs = new Map<string, { controller: AbortController; done: Promise<void> }>();

  constructor(
    private readonly store: Store,
    private readonly options: RunnerOptions,
  ) {}

  /** Starts (or, after an emulator restart, resumes) the lifecycle of a non-terminal batch. */
  start(batch: BatchRecord): void {
    if (TERMINAL_STATES.has(batch.state) || this.jobs.has(batch.id)) return;
    const controller = new AbortController();
    const done = this.run(batch, controller.signal)
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        this.finish(
          batch,
          'BATCH_STATE_FAILED',
          rpcStatus('INTERNAL', `Emulator job failed: ${String(err)}`),
        );
      })
      .finally(() => this.jobs.delete(batch.id));
    this.jobs.set(batch.id, { controller, done });
  }

  /** Best-effort cancel, like the API: the job stops and keeps what it has processed. */
  async stop(id: string, reason: StopReason): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) return;
    job.controller.abort(reason);
    await job.done;
  }

  /** Cancels a batch whether or not its lifecycle is being driven right now. */
  async cancel(batch: BatchRecord): Promise<void> {
    await this.stop(batch.id, 'cancel');
    if (!TERMINAL_STATES.has(batch.state)) {
      this.finish(batch, 'BATCH_STATE_CANCELLED', CANCELLED_ERROR);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.jobs.keys()].map((id) => this.stop(id, 'close')));
  }

  private expireAt(batch: BatchRecord): number {
    return Date.parse(batch.createTime) + this.options.expireAfterMs;
  }

  private setState(batch: BatchRecord, state: BatchState | string): void {
    batch.state = state;
    batch.updateTime = nowIso();
    this.store.saveBatch(batch);
  }

  private finish(batch: BatchRecord, state: BatchState, error?: RpcStatus): void {
    batch.endTime = nowIso();
    if (error) batch.error = error;
    this.setState(batch, state);
  }

  /** Sleeps until `at` (epoch ms) or the job's expiry, whichever is first; rejects when aborted. */
  private async waitUntil(batch: BatchRecord, at: number, signal: AbortSignal): Promise<'ok' | 'expired'> {
    const expireAt = this.expireAt(batch);
    const until = Math.min(at, expireAt);
    for (let left = until - Date.now(); left > 0; left = until - Date.now()) {
      await sleep(Math.min(left, 2 ** 30), undefined, { signal });
    }
    return at < expireAt ? 'ok' : 'expired';
  }

  private async run(batch: BatchRecord, signal: AbortSignal): Promise<void> {
    const faults = batch.faults;
    try {
      if (batch.state === 'BATCH_STATE_PENDING') {
        // Fault `stuck`: PENDING until the job expires (or is cancelled).
        if (effectOf(faults, 'stuck')) {
          await this.waitUntil(batch, Number.POSITIVE_INFINITY, signal);
          return this.expire(batch);
        }
        const startAt = Date.parse(batch.createTime) + this.options.pendingMs;
        if ((await this.waitUntil(batch, startAt, signal)) === 'expired') return this.expire(batch);
        batch.runningSince = nowIso();
        this.setState(batch, 'BATCH_STATE_RUNNING');
        // Fault `unknownState`: a state value the client does not know, for a while.
        const odd = effectOf(faults, 'unknownState');
        if (odd) {
          this.setState(batch, odd.state);
          if ((await this.waitUntil(batch, Date.now() + odd.ms, signal)) === 'expired')
            return this.expire(batch);
          this.setState(batch, 'BATCH_STATE_RUNNING');
        }
      } else if (batch.state !== 'BATCH_STATE_RUNNING') {
        this.setState(batch, 'BATCH_STATE_RUNNING');
      }
      // RUNNING, fresh or left running by an earlier emulator process: the work starts over.
      batch.successful = 0;
      batch.failed = 0;
      const startedAt = Date.parse(batch.runningSince ?? nowIso());
      const expired = await this.process(batch, startedAt, signal);
      signal.throwIfAborted();
      if (expired) return this.expire(batch);
      const end = effectOf(faults, 'end');
      if (end) return this.end(batch, end);
      if ((await this.waitUntil(batch, startedAt + this.options.runningMs, signal)) === 'expired') {
        return this.expire(batch);
      }
      this.finish(batch, 'BATCH_STATE_SUCCEEDED');
    } catch (err) {
      if (!signal.aborted) throw err;
      if (signal.reason === 'cancel') {
        this.finish(batch, 'BATCH_STATE_CANCELLED', CANCELLED_ERROR);
      }
    }
  }

  /** Fault `end`: the job stops part-way in a failed state (its partial output was kept or not). */
  private end(batch: BatchRecord, end: Extract<JobFaultEffect, { type: 'end' }>): void {
    const error: Record<typeof end.state, RpcStatus> = {
      FAILED: rpcStatus('INTERNAL', 'The batch failed: an internal error occurred while processing it.'),
      CANCELLED: CANCELLED_ERROR,
      EXPIRED: EXPIRED_ERROR,
    };
    this.finish(batch, `BATCH_STATE_${end.state}`, error[end.state]);
  }

  private expire(batch: BatchRecord): void {
    // The real API keeps no results for an expired job.
    batch.outputFile = undefined;
    batch.inlinedResponses = undefined;
    this.finish(batch, 'BATCH_STATE_EXPIRED', EXPIRED_ERROR);
  }

  /** One request → one outcome. */
  private answer(batch: BatchRecord, key: unknown, request: unknown): LineOutcome {
    if (!isObject(request)) {
      return { key, body: { error: rpcStatus('INVALID_ARGUMENT', 'Missing required field "request".') } };
    }
    const model = typeof request.model === 'string' ? request.model : batch.model;
    const outcome =
      batch.kind === 'embed'
        ? fakeEmbedContent(request, this.options.embeddingDimensions)
        : fakeGenerateContent(model, request);
    if ('error' in outcome) return { key, body: outcome };
    if (batch.kind === 'embed') {
      const values = (outcome.response.embedding as { values: number[] }).values;
      return { key, body: { response: { embedding: { values }, tokenCount: '1' } } };
    }
    return { key, body: outcome };
  }

  private count(batch: BatchRecord, outcome: LineOutcome): void {
    if ('error' in outcome.body) batch.failed++;
    else batch.successful++;
  }

  /** Paces the work over `runningMs`; true when the job ran past its expiry. */
  private async pace(batch: BatchRecord, startedAt: number, signal: AbortSignal): Promise<boolean> {
    const processed = batch.successful + batch.failed;
    if (this.options.runningMs > 0 && batch.requestCount > 0) {
      const due = startedAt + (this.options.runningMs * processed) / batch.requestCount;
      // An abort ends the sleep; the caller sees `signal.aborted` and stops.
      if (due > Date.now()) await sleep(due - Date.now(), undefined, { signal }).catch(() => undefined);
    } else if (processed % 512 === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    return Date.now() >= this.expireAt(batch);
  }

  /** Runs every request (or, with fault `end`, the first part); returns true if the job expired. */
  private async process(batch: BatchRecord, startedAt: number, signal: AbortSignal): Promise<boolean> {
    const faults = batch.faults;
    const end = effectOf(faults, 'end');
    const stopAt = end ? Math.floor((end.after ?? 0.5) * batch.requestCount) : Number.POSITIVE_INFINITY;
    const fileInput = batch.inlineRequests === undefined;
    batch.outputFile = undefined;
    batch.inlinedResponses = undefined;
    const sink: Sink =
      fileInput && !effectOf(faults, 'inline')
        ? new FileSink(this.store, batch, this.options.fileTtlMs)
        : new InlineSink(batch);
    // A result line the job was not asked for: the answer to a request made of `text`.
    const madeUp = (key: string, text: string): ResultItem => {
      const request =
        batch.kind === 'embed'
          ? { content: { parts: [{ text }] } }
          : { contents: [{ role: 'user', parts: [{ text }] }] };
      const { body } = this.answer(batch, key, request);
      return fileInput ? { body, key } : { body, metadata: { key } };
    };
    const invented = (j: number): ResultItem => {
      const key = `emulator-unknown-${j + 1}-${batch.id.slice(0, 8)}`;
      return madeUp(key, `A request that was never sent (${key}).`);
    };
    const foreign = (key: string): ResultItem =>
      madeUp(key, `An answer for ${key}, which this job was not sent.`);
    const shaper = new ResultShaper(
      faults,
      batch.requestCount,
      (item) => sink.write(item),
      invented,
      foreign,
    );
    let index = 0;
    let expired = false;
    let complete = false;
    try {
      for await (const item of readRequests(this.store, batch)) {
        if (signal.aborted || index >= stopAt) break;
        index++;
        const lineError = shaper.lineError(index);
        const outcome: LineOutcome = lineError
          ? { key: item.key, body: { error: lineError } }
          : item.invalid
            ? { key: item.key, body: { error: item.invalid } }
            : this.answer(batch, item.key, item.request);
        this.count(batch, outcome);
        await shaper.push(index, {
          body: outcome.body,
          ...(item.key !== undefined ? { key: item.key } : {}),
          ...(item.metadata ? { metadata: item.metadata } : {}),
        });
        if (await this.pace(batch, startedAt, signal)) {
          expired = true;
          break;
        }
      }
      if (!expired) await shaper.finish();
      complete = true;
    } finally {
      // Cancelled jobs keep their partial results, like the real API's best-effort cancel; an expired
      // job keeps none; fault `end` keeps them unless `partial: false`.
      const stopped = signal.aborted && signal.reason !== 'cancel';
      const dropPartial = end?.partial === false && !signal.aborted;
      await sink.close(complete && !expired && !stopped && !dropPartial);
    }
    return expired;
  }
}
