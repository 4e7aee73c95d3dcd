// Helpers for end-to-end pipeline tests: rows in, the real SDK against the emulator, results out.

import { type Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import type { Emulator } from '../../src/emulator/index.js';
import {
  type GeminiBatchOptions,
  type GeminiOnlineOptions,
  geminiBatch,
  geminiOnline,
  type ProgressEvent,
  type RunSummary,
  toRequests,
} from '../../src/index.js';
import type { RequestBuilder, ToRequestsOptions } from '../../src/stages/to-requests.js';
import type { BatchResult } from '../../src/types.js';

export function collect<T>(into: T[]): Writable {
  return new Writable({
    objectMode: true,
    write(item: T, _e, cb) {
      into.push(item);
      cb();
    },
  });
}

export interface RunResult {
  results: BatchResult<any, any>[];
  events: ProgressEvent[];
  summary: RunSummary | undefined;
}

/** Runs rows through toRequests and the stage `stage` makes, which reports its progress to `record`. */
async function runThrough(
  rows: object[],
  build: RequestBuilder<any>,
  requestOptions: ToRequestsOptions<any>,
  stage: (record: (e: ProgressEvent) => void) => Duplex,
): Promise<RunResult> {
  const results: BatchResult<any, any>[] = [];
  const events: ProgressEvent[] = [];
  await pipeline(
    Readable.from(rows),
    toRequests(build, requestOptions),
    stage((e) => events.push(e)),
    collect(results),
  );
  const done = events.find((e) => e.type === 'done');
  return { results, events, summary: done?.type === 'done' ? done.summary : undefined };
}

/** Runs rows through toRequests + geminiBatch against `emu`; fast polling, small chunks by default. */
export function runRows(
  emu: Emulator,
  rows: object[],
  build: RequestBuilder<any>,
  options: Partial<GeminiBatchOptions> & { stateDir: string },
  requestOptions: ToRequestsOptions<any> = {},
): Promise<RunResult> {
  return runThrough(rows, build, requestOptions, (record) =>
    geminiBatch({
      client: new GoogleGenAI(emu.clientOptions()),
      model: 'gemini-2.5-flash',
      pollIntervalMs: 5,
      retry: { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 20 },
      ...options,
      onProgress: (e) => {
        record(e);
        options.onProgress?.(e);
      },
    }),
  );
}

/** Runs rows (prompt `text`, key `id`) through toRequests + geminiOnline against `emu`; fast retries. */
export function runOnline(
  emu: Emulator,
  rows: object[],
  options: Partial<GeminiOnlineOptions> = {},
): Promise<RunResult> {
  return runThrough(
    rows,
    (row: any) => row.text,
    { key: (row: any) => row.id },
    (record) =>
      geminiOnline({
        client: new GoogleGenAI(emu.clientOptions()),
        model: 'gemini-2.5-flash',
        retry: { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 20 },
        ...options,
        onProgress: record,
      }),
  );
}

/** Request options that key each row by its `id`. */
export const byId = { key: (row: { id: string }) => row.id };

export const rowsOf = (n: number, text = (i: number) => `prompt number ${i}`) =>
  Array.from({ length: n }, (_, i) => ({ id: `id-${String(i).padStart(5, '0')}`, text: text(i) }));
