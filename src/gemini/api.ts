// Every call the library makes to the Gemini API, through the official SDK, with retries. A
// per-call `fetch` that delegates to the real one lets us see what the SDK hides: `batchStats`
// and `error` of an Operation, Retry-After headers, and a download cut off mid-way.

import { openAsBlob } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { GoogleGenAI } from '@google/genai';
import { GbsError } from '../errors.js';
import { downloadFetch, observingFetch } from './fetch.js';
import { type JobStatus, toStats } from './job-status.js';
import { apiErrorBody, httpStatusOf, isTransient, type RetryHooks, withRetry } from './retry.js';

/** The Files API's quota error for a full project storage, told by its quota metric. */
function storageFull(err: unknown): boolean {
  return /file_storage_bytes|FileStorageBytesPerProject/.test(JSON.stringify(apiErrorBody(err) ?? {}));
}

export class GeminiApi {
  constructor(
    private readonly client: GoogleGenAI,
    private readonly hooks: RetryHooks,
  ) {}

  get signal(): AbortSignal {
    return this.hooks.signal;
  }

  /** The same API bound to another signal (e.g. for cleanup after the run's signal fired). */
  withSignal(signal: AbortSignal, policy: RetryHooks['policy'] = this.hooks.policy): GeminiApi {
    return new GeminiApi(this.client, { ...this.hooks, signal, policy });
  }

  /**
   * Uploads a JSONL requests file (resumable protocol, streamed from disk) and checks its size.
   * Before a retry, or when an earlier process may have uploaded it already (`mayExist`), it looks
   * for a file with this display name: one of the right size is used instead of a second upload,
   * others (cut short) are deleted, so no stray copy stays counted against the 20 GB cap.
   */
  async upload(
    path: string,
    displayName: string,
    context: { chunk: number; mayExist?: boolean },
  ): Promise<{ name: string; bytes: number }> {
    const { size } = await stat(path);
    const upload = withRetry(
      'files.upload',
      async (info) => {
        if (info.attempt > 1 || context.mayExist) {
          const adopted = await this.adoptUpload(displayName, size);
          if (adopted) return { name: adopted, bytes: size };
        }
        // No per-call httpOptions here: in SDK 2.x they replace the upload's own headers.
        const file = await this.client.files.upload({
          // A file-backed Blob (Node ≥ 19.8): the SDK sends lazy slices that fetch streams from
          // disk. Given a path it would read each 8 MiB piece into a fresh buffer and copy it into a
          // Blob (two buffers per piece, freed only at a later GC: +100 MB of RSS on a large file).
          file: await openAsBlob(path, { type: 'jsonl' }),
          config: { mimeType: 'jsonl', displayName, abortSignal: info.signal },
        });
        if (!file?.name) {
          throw new GbsError('GBS_UPLOAD_FAILED', 'the upload returned no file name', {
            chunk: context.chunk,
            retryable: true,
          });
        }
        if (file.sizeBytes !== undefined && Number(file.sizeBytes) !== size) {
          throw new GbsError(
            'GBS_UPLOAD_FAILED',
            `the uploaded file has ${file.sizeBytes} bytes, the local file ${size}`,
            {
              chunk: context.chunk,
              retryable: true,
            },
          );
        }
        return { name: file.name, bytes: size };
      },
      this.hooks,
      'GBS_UPLOAD_FAILED',
    );
    return upload.catch((err: unknown) => {
      if (!(err instanceof GbsError) || !storageFull(err.cause)) throw err;
      throw new GbsError(
        'GBS_UPLOAD_FAILED',
        `${err.message}. The project's file storage is full (all its files count; 20 GB): delete files ` +
          'you no longer need (uploaded files also expire after 48 h), then run again to resume',
        { chunk: context.chunk, cause: err.cause },
      );
    });
  }

  /** An uploaded file with this display name and size (others with the name are deleted). */
  private async adoptUpload(displayName: string, size: number): Promise<string | undefined> {
    const found = await withRetry(
      'files.list',
      async (info) => {
        const matches: Array<{ name: string; sizeBytes?: string; state?: string }> = [];
        const pager = await this.client.files.list({
          config: { pageSize: 100, httpOptions: { fetch: observingFetch(info) }, abortSignal: info.signal },
        });
        for await (const file of pager) {
          if (file?.displayName === displayName && file.name) matches.push(file as (typeof matches)[number]);
        }
        return matches;
      },
      this.hooks,
    );
    let adopted: string | undefined;
    for (const file of found) {
      if (!adopted && Number(file.sizeBytes) === size && file.state !== 'FAILED') adopted = file.name;
      else await this.deleteFile(file.name);
    }
    return adopted;
  }

  /**
   * The job of an attempt that may be running: its recorded name, or, for a create in doubt (the
   * process stopped before saving the name), the job found by the attempt's display name.
   */
  async jobOf(attempt: { job?: string; displayName: string }): Promise<string | undefined> {
    return attempt.job ?? (await this.findByDisplayName(attempt.displayName))?.name;
  }

  /** Finds a job by its display name (for adopting a create whose answer was lost), and when it was made. */
  async findByDisplayName(displayName: string): Promise<{ name: string; createTime?: string } | undefined> {
    return withRetry(
      'batches.list',
      async (info) => {
        const pager = await this.client.batches.list({
          config: { pageSize: 100, httpOptions: { fetch: observingFetch(info) }, abortSignal: info.signal },
        });
        for await (const job of pager) {
          if (job?.displayName === displayName && job.name)
            return { name: job.name, ...(job.createTime ? { createTime: job.createTime } : {}) };
        }
        return undefined;
      },
      this.hooks,
    );
  }

  /**
   * Creates the job for an uploaded file. Creation is not idempotent, so before every retry (a
   * create that timed out may have reached the server) it looks for the job by display name and
   * adopts it instead of paying for a second one.
   */
  async createJob(
    model: string,
    fileName: string,
    displayName: string,
    context: { chunk: number },
  ): Promise<{ name: string; adopted: boolean; createTime?: string }> {
    return withRetry(
      'batches.create',
      async (info) => {
        if (info.attempt > 1) {
          const existing = await this.findByDisplayName(displayName);
          if (existing) return { ...existing, adopted: true };
        }
        const job = await this.client.batches.create({
          model,
          src: fileName,
          config: { displayName, httpOptions: { fetch: observingFetch(info) }, abortSignal: info.signal },
        });
        if (!job?.name)
          throw new GbsError('GBS_API_ERROR', 'batches.create returned no job name', {
            ...context,
            retryable: true,
          });
        return { name: job.name, adopted: false };
      },
      this.hooks,
    );
  }

  /** The job's state, output and (from the raw Operation, which the SDK does not expose) stats and error. */
  async getJob(name: string): Promise<JobStatus> {
    return withRetry(
      'batches.get',
      async (info) => {
        let raw: {
          metadata?: { batchStats?: Record<string, unknown> };
          error?: { code?: number; message?: string };
        } = {};
        const job = await this.client.batches.get({
          name,
          config: {
            httpOptions: {
              fetch: observingFetch(info, (body) => {
                raw = body as typeof raw;
              }),
            },
            abortSignal: info.signal,
          },
        });
        const dest = job.dest as { fileName?: string; inlinedResponses?: JobStatus['inline'] } | undefined;
        const stats = toStats(raw.metadata?.batchStats);
        return {
          name,
          state: job.state ?? 'JOB_STATE_UNSPECIFIED',
          ...(job.displayName ? { displayName: job.displayName } : {}),
          ...(dest?.fileName ? { outputFile: dest.fileName } : {}),
          ...(dest?.inlinedResponses ? { inline: dest.inlinedResponses } : {}),
          ...(stats ? { stats } : {}),
          ...(raw.error ? { error: raw.error } : {}),
        };
      },
      this.hooks,
    );
  }

  /**
   * Downloads a results file to `dest` (streamed by the SDK, never held in memory): written to
   * `dest.part` and renamed when complete. A result file that is not ready yet (404/403 right
   * after SUCCEEDED) is retried like a transient failure.
   */
  async download(fileName: string, dest: string): Promise<number> {
    const part = `${dest}.part`;
    return withRetry(
      'files.download',
      async (info) => {
        const state: { error?: unknown; expected?: number } = {};
        await this.client.files.download({
          file: fileName,
          downloadPath: part,
          config: { httpOptions: { fetch: downloadFetch(info, state) }, abortSignal: info.signal },
        });
        const { size } = await stat(part);
        if (state.error || (state.expected !== undefined && state.expected !== size)) {
          await rm(part, { force: true });
          throw new GbsError(
            'GBS_DOWNLOAD_FAILED',
            `the download of ${fileName} broke off after ${size} bytes${state.error ? `: ${String(state.error)}` : ''}`,
            { retryable: true },
          );
        }
        await rename(part, dest);
        return size;
      },
      this.hooks,
      'GBS_DOWNLOAD_FAILED',
      (err) => isTransient(err) || httpStatusOf(err) === 404 || httpStatusOf(err) === 403,
    );
  }

  /** Best effort: cancels a job; an already finished job is not an error. */
  async cancel(name: string): Promise<void> {
    await withRetry(
      'batches.cancel',
      async (info) => {
        try {
          await this.client.batches.cancel({
            name,
            config: { httpOptions: { fetch: observingFetch(info) }, abortSignal: info.signal },
          });
        } catch (err) {
          if (httpStatusOf(err) === 400 || httpStatusOf(err) === 404) return;
          throw err;
        }
      },
      this.hooks,
    );
  }

  /** Best effort: deletes an uploaded file (they count against the 20 GB project cap). */
  async deleteFile(name: string): Promise<void> {
    await withRetry(
      'files.delete',
      async (info) => {
        try {
          await this.client.files.delete({
            name,
            config: { httpOptions: { fetch: observingFetch(info) }, abortSignal: info.signal },
          });
        } catch (err) {
          if (httpStatusOf(err) === 403 || httpStatusOf(err) === 404) return;
          throw err;
        }
      },
      this.hooks,
    );
  }
}
