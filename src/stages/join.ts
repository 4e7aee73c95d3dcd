// join: a completed chunk → one BatchResult per input row, in input order, matched to the answers
// by key (never by position: the API's order is not guaranteed). Memory per chunk is a key index
// and the byte offset of each row's answer, never the answers themselves.

import { join as joinPath } from 'node:path';
import type { z } from 'zod';
import { interpret } from '../gemini/result.js';
import { countResult, type ProgressEvent, type RunSummary } from '../progress.js';
import type { AttemptState } from '../state/run-state.js';
import type { BatchResult, ErrorInfo } from '../types.js';
import { MAX_RESULT_LINE_BYTES, PositionalReader, rawLineBatches } from '../util/lines.js';
import { type AnswerIndex, indexAnswers } from './answers.js';
import { ROWS_FILE, type RowLine } from './open-chunk.js';
import type { CompletedChunk } from './submit.js';

export interface JoinContext {
  outputSchema?: z.ZodType | undefined;
  includeResponse: boolean;
  emit(event: ProgressEvent): void;
  summary: RunSummary;
}

/** The error record of a row no job attempt answered, saying what became of the last job. */
function missing(attempts: AttemptState[], line: number | undefined): ErrorInfo {
  const last = attempts[attempts.length - 1];
  const state = last?.jobState;
  const tries = attempts.length > 1 ? ` (after ${attempts.length} jobs)` : '';
  let error: Omit<ErrorInfo, 'line'>;
  if (last?.deadline) {
    error = {
      stage: 'job',
      code: 'GBS_JOB_DEADLINE',
      message: `no answer: the job ${last.job} did not finish within jobDeadlineMs and was cancelled${tries}`,
      reason: 'DEADLINE',
    };
  } else if (state && state !== 'JOB_STATE_SUCCEEDED') {
    const why = last?.error?.message ? ` (${last.error.message})` : '';
    error = {
      stage: 'job',
      code: 'GBS_JOB_FAILED',
      message: `no answer: the job ${last?.job} ended ${state}${why}${tries}`,
      reason: state.replace(/^JOB_/, 'BATCH_'),
    };
  } else {
    error = {
      stage: 'job',
      code: 'GBS_RESULT_MISSING',
      message: `no answer for this key in the results of ${last?.job ?? 'the job'}${tries}`,
    };
  }
  return { ...error, ...(line !== undefined ? { line } : {}) };
}

function reportAnomalies(done: CompletedChunk, index: AnswerIndex, ctx: JoinContext): void {
  for (const a of index.anomalies) {
    const where = a.job ?? `attempt ${a.attempt}`;
    const found = [
      [a.unknownKeys, 'UNKNOWN_KEYS', 'result lines for keys this job was not sent (ignored)'],
      [a.duplicateKeys, 'DUPLICATE_RESULTS', 'second answers for a key (the first was kept)'],
      [a.malformedLines, 'MALFORMED_LINES', 'result lines that could not be read'],
    ] as const;
    for (const [n, code, what] of found) {
      if (n > 0)
        ctx.emit({ type: 'warning', chunk: done.ref.index, code, message: `${n} ${what} in ${where}` });
    }
    ctx.summary.anomalies.unknownKeys += a.unknownKeys;
    ctx.summary.anomalies.duplicateKeys += a.duplicateKeys;
    ctx.summary.anomalies.malformedLines += a.malformedLines;
  }
}

/** Results handed on together (one promise per batch, not per row). */
const BATCH = 32;

/** Emits the BatchResults of one completed chunk, in input order, in batches. */
async function* joinChunk(done: CompletedChunk, ctx: JoinContext): AsyncGenerator<BatchResult[]> {
  const rowsPath = joinPath(done.ref.dir, ROWS_FILE);
  const located =
    done.state.requests > 0
      ? (done.answers ??
        (await indexAnswers(done.ref.dir, done.state, false, undefined, undefined, done.ref.unsent)))
      : undefined;
  if (located) reportAnomalies(done, located, ctx);
  const readers = new Map<number, PositionalReader>();
  let ok = 0;
  let failed = 0;
  let batch: BatchResult[] = [];
  try {
    let i = 0;
    for await (const lines of rawLineBatches(rowsPath)) {
      for (const raw of lines) {
        const item = JSON.parse(raw.buf.toString('utf8', raw.start, raw.end)) as RowLine;
        let result: BatchResult;
        if (item.error) {
          result = { key: item.key, row: item.row as never, ok: false, error: item.error };
        } else {
          const ai = located?.attempt[i] ?? -1;
          if (ai < 0 || !located) {
            result = {
              key: item.key,
              row: item.row as never,
              ok: false,
              error: missing(done.state.attempts, item.line),
            };
          } else {
            let reader = readers.get(ai);
            if (!reader) {
              reader = await PositionalReader.open(
                joinPath(done.ref.dir, done.state.attempts[ai]?.resultsFile as string),
              );
              readers.set(ai, reader);
            }
            const offset = located.offset[i] as number;
            const length = located.length[i] as number;
            let answer: unknown;
            let unreadable = 'damaged (not JSON)';
            if (length > MAX_RESULT_LINE_BYTES) {
              unreadable = `${Math.round(length / 2 ** 20)} MiB long, over the ${MAX_RESULT_LINE_BYTES / 2 ** 20} MiB a result line may take`;
            } else {
              const line = reader.buffered(offset, length) ?? (await reader.read(offset, length));
              try {
                answer = JSON.parse(line);
              } catch {
                // Its key was read from the line's end, but the line is damaged (a line cut short that
                // ran into this one): the answer cannot be read. An error record, not a run that fails
                // for good.
                answer = undefined;
              }
            }
            if (answer === undefined) {
              const job = done.state.attempts[ai]?.job ?? 'the job';
              result = {
                key: item.key,
                row: item.row as never,
                ok: false,
                error: {
                  stage: 'job',
                  code: 'GBS_RESULT_MISSING',
                  message: `the answer for this key in the results of ${job} is ${unreadable}`,
                },
              };
            } else
              result = interpret(answer as { response?: unknown; error?: unknown }, ctx, item.key, item.row);
            if (result.error && item.line !== undefined) result.error.line = item.line;
          }
        }
        if (result.ok) ok++;
        else failed++;
        countResult(ctx.summary, result);
        batch.push(result);
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
        i++;
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    for (const r of readers.values()) await r.close();
  }
  ctx.emit({ type: 'chunk-emitted', chunk: done.ref.index, rows: ok + failed, ok, failed });
}

export async function* joinChunks(
  chunks: AsyncIterable<CompletedChunk>,
  ctx: JoinContext,
): AsyncGenerator<BatchResult[]> {
  for await (const done of chunks) {
    ctx.summary.chunks++;
    yield* joinChunk(done, ctx);
  }
}
