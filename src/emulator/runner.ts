// Drives each batch through PENDING → RUNNING → SUCCEEDED (or CANCELLED / EXPIRED / FAILED):
// reads the input file line by line, asks the fake model, streams the results file to disk.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fakeEmbedContent, fakeGenerateContent } from './fake-model.js';
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
      this.finish(batch, 'BATCH_STATE_CANCELLED', rpcStatus('CANCELLED', 'The batch was cancelled.'));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.jobs.keys()].map((id) => this.stop(id, 'close')));
  }

  private expireAt(batch: BatchRecord): number {
    return Date.parse(batch.createTime) + this.options.expireAfterMs;
  }

  private setState(batch: BatchRecord, state: BatchState): void {
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
    try {
      if (batch.state === 'BATCH_STATE_PENDING') {
        const startAt = Date.parse(batch.createTime) + this.options.pendingMs;
        if ((await this.waitUntil(batch, startAt, signal)) === 'expired') return this.expire(batch);
        batch.runningSince = nowIso();
        this.setState(batch, 'BATCH_STATE_RUNNING');
      }
      // RUNNING, fresh or left running by an earlier emulator process: the work starts over.
      batch.successful = 0;
      batch.failed = 0;
      const startedAt = Date.parse(batch.runningSince ?? nowIso());
      const expired = await this.process(batch, startedAt, signal);
      signal.throwIfAborted();
      if (expired) return this.expire(batch);
      if ((await this.waitUntil(batch, startedAt + this.options.runningMs, signal)) === 'expired') {
        return this.expire(batch);
      }
      this.finish(batch, 'BATCH_STATE_SUCCEEDED');
    } catch (err) {
      if (!signal.aborted) throw err;
      if (signal.reason === 'cancel') {
        this.finish(batch, 'BATCH_STATE_CANCELLED', rpcStatus('CANCELLED', 'The batch was cancelled.'));
      }
    }
  }

  private expire(batch: BatchRecord): void {
    // The real API keeps no results for an expired job.
    batch.outputFile = undefined;
    batch.inlinedResponses = undefined;
    this.finish(
      batch,
      'BATCH_STATE_EXPIRED',
      rpcStatus('DEADLINE_EXCEEDED', 'The batch expired: it was pending or running for too long.'),
    );
  }

  /** One request → one outcome. */
  private answer(batch: BatchRecord, key: unknown, request: unknown): LineOutcome {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return { key, body: { error: rpcStatus('INVALID_ARGUMENT', 'Missing required field "request".') } };
    }
    const req = request as Record<string, unknown>;
    const model = typeof req.model === 'string' ? req.model : batch.model;
    const outcome =
      batch.kind === 'embed'
        ? fakeEmbedContent(req, this.options.embeddingDimensions)
        : fakeGenerateContent(model, req);
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

  /** Runs every request; returns true if the job expired on the way. */
  private async process(batch: BatchRecord, startedAt: number, signal: AbortSignal): Promise<boolean> {
    if (batch.inlineRequests) {
      const responses: Record<string, unknown>[] = [];
      batch.inlinedResponses = undefined;
      for (const item of batch.inlineRequests) {
        if (signal.aborted) break;
        const outcome = this.answer(batch, item.metadata, item.request);
        this.count(batch, outcome);
        responses.push({ ...outcome.body, ...(item.metadata ? { metadata: item.metadata } : {}) });
        if (await this.pace(batch, startedAt, signal)) return true;
      }
      batch.inlinedResponses = responses;
      return false;
    }
    return this.processFile(batch, startedAt, signal);
  }

  private async processFile(batch: BatchRecord, startedAt: number, signal: AbortSignal): Promise<boolean> {
    const input = this.store.files.get(this.store.fileId(batch.inputFile ?? ''));
    if (!input) {
      throw new Error(`input file ${batch.inputFile} is gone`);
    }
    const outName = `batch-${batch.id}`;
    const outPath = `data/${outName}`;
    const tmp = this.store.abs(`${outPath}.part`);
    const out = createWriteStream(tmp);
    const sha = createHash('sha256');
    const lines = createInterface({
      input: createReadStream(this.store.abs(input.dataPath)),
      crlfDelay: Infinity,
    });
    let expired = false;
    try {
      for await (const line of lines) {
        if (signal.aborted) break;
        if (line.trim() === '') continue;
        const outcome = this.answerLine(batch, line);
        this.count(batch, outcome);
        // Real result lines put `key` after `response` / `error`.
        const record = outcome.key === undefined ? outcome.body : { ...outcome.body, key: outcome.key };
        const text = `${JSON.stringify(record)}\n`;
        sha.update(text);
        if (!out.write(text)) await once(out, 'drain');
        if (await this.pace(batch, startedAt, signal)) {
          expired = true;
          break;
        }
      }
    } finally {
      lines.close();
      out.end();
      await once(out, 'close');
    }
    if (expired) return true;
    // Cancelled jobs keep their partial results, like the real API's best-effort cancel.
    if (signal.aborted && signal.reason !== 'cancel') return false;
    renameSync(tmp, this.store.abs(outPath));
    const now = nowIso();
    this.store.saveFile({
      name: `files/${outName}`,
      mimeType: 'application/json',
      sizeBytes: statSync(this.store.abs(outPath)).size,
      createTime: now,
      updateTime: now,
      expirationTime: new Date(Date.now() + this.options.fileTtlMs).toISOString(),
      sha256Hash: sha.digest('base64'),
      source: 'GENERATED',
      dataPath: outPath,
    });
    batch.outputFile = `files/${outName}`;
    return false;
  }

  private answerLine(batch: BatchRecord, line: string): LineOutcome {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // Unparsable files are refused at create; this only guards against a file changed since.
      return {
        key: undefined,
        body: { error: rpcStatus('INVALID_ARGUMENT', 'Invalid JSON in the input line.') },
      };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return {
        key: undefined,
        body: { error: rpcStatus('INVALID_ARGUMENT', 'The input line is not an object.') },
      };
    }
    const line$ = parsed as Record<string, unknown>;
    const key = line$.key;
    if (key === undefined || key === null || key === '') {
      return {
        key: undefined,
        body: { error: rpcStatus('INVALID_ARGUMENT', 'Missing required field "key".') },
      };
    }
    return this.answer(batch, key, line$.request);
  }
}
