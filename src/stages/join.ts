// join: a completed chunk → one BatchResult per input row, in input order, matched to the answers
// by key (never by position: the API's order is not guaranteed). Memory per chunk is a key index
// and the byte offset of each row's answer, never the answers themselves.

import { join as joinPath } from 'node:path';
import type { z } from 'zod';
import { interpret } from '../gemini/result.js';
import type { ProgressEvent, RunSummary } from '../progress.js';
import type { AttemptState } from '../state/run-state.js';
import type { BatchResult, ErrorInfo } from '../types.js';
import { linesWithOffsets, PositionalReader } from '../util/lines.js';
import { ROWS_FILE, type RowLine } from './chunk.js';
import type { CompletedChunk } from './submit.js';

export interface JoinContext {
  outputSchema?: z.ZodType | undefined;
  includeResponse: boolean;
  emit(event: ProgressEvent): void;
  summary: RunSummary;
}

/**
 * The key of a result line without parsing the whole line: real lines end with `,"key":…}`. When
 * the line does not end that way, the whole line is parsed.
 */
export function extractKey(line: string): string | undefined {
  const at = line.lastIndexOf(',"key":');
  if (at >= 0 && line.charCodeAt(line.length - 1) === 125 /* } */) {
    try {
      const key = JSON.parse(line.slice(at + 7, -1)) as unknown;
      if (typeof key === 'string') return key;
      if (typeof key === 'number') return String(key);
    } catch {
      // Not the last top-level field after all: fall through to a full parse.
    }
  }
  try {
    const parsed = JSON.parse(line) as { key?: unknown };
    if (typeof parsed?.key === 'string') return parsed.key;
    if (typeof parsed?.key === 'number') return String(parsed.key);
  } catch {
    return undefined;
  }
  return undefined;
}

/** For each row (by index): which attempt's results file answers it (-1: none), and where. */
interface Located {
  attempt: Int32Array;
  offset: Float64Array;
  length: Float64Array;
}

/** Indexes where each row's answer sits in the attempts' result files (first answer wins). */
async function locate(done: CompletedChunk, keys: Map<string, number>, ctx: JoinContext): Promise<Located> {
  const rows = done.state.rows;
  const found: Located = {
    attempt: new Int32Array(rows).fill(-1),
    offset: new Float64Array(rows),
    length: new Float64Array(rows),
  };
  const attemptOf = found.attempt;
  for (const [ai, attempt] of done.state.attempts.entries()) {
    if (!attempt.resultsFile) continue;
    let unknown = 0;
    let duplicate = 0;
    let malformed = 0;
    for await (const { text, offset, length } of linesWithOffsets(
      joinPath(done.ref.dir, attempt.resultsFile),
    )) {
      const key = extractKey(text);
      if (key === undefined) {
        malformed++;
        continue;
      }
      const index = keys.get(key);
      if (index === undefined) {
        unknown++;
        continue;
      }
      if (attemptOf[index] !== -1) {
        duplicate++;
        continue;
      }
      attemptOf[index] = ai;
      found.offset[index] = offset;
      found.length[index] = length;
    }
    const anomalies = [
      [unknown, 'UNKNOWN_KEYS', 'result lines for keys this chunk never sent (ignored)'],
      [duplicate, 'DUPLICATE_RESULTS', 'second answers for a key (the first was kept)'],
      [malformed, 'MALFORMED_LINES', 'result lines that could not be read (their rows are reported missing)'],
    ] as const;
    for (const [count, code, what] of anomalies) {
      if (count > 0) {
        ctx.emit({
          type: 'warning',
          chunk: done.ref.index,
          code,
          message: `${count} ${what} in ${attempt.job ?? 'the results'}`,
        });
      }
    }
    ctx.summary.anomalies.unknownKeys += unknown;
    ctx.summary.anomalies.duplicateKeys += duplicate;
    ctx.summary.anomalies.malformedLines += malformed;
  }
  return found;
}

function missing(attempts: AttemptState[], line: number | undefined): ErrorInfo {
  const last = attempts[attempts.length - 1];
  const state = last?.jobState;
  const failedJob = state && state !== 'JOB_STATE_SUCCEEDED';
  const message = failedJob
    ? `no answer: the job ${last?.job} ended ${state}${last?.error?.message ? ` (${last.error.message})` : ''}`
    : `no answer for this key in the results of ${last?.job ?? 'the job'}`;
  return {
    stage: 'job',
    code: failedJob ? 'GBS_JOB_FAILED' : 'GBS_RESULT_MISSING',
    message,
    ...(state ? { reason: state.replace(/^JOB_/, 'BATCH_') } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}

function count(ctx: JoinContext, result: BatchResult): void {
  const s = ctx.summary;
  s.rows++;
  if (result.ok) s.succeeded++;
  else {
    s.failed++;
    const code = result.error?.code;
    if (code) s.failedByCode[code] = (s.failedByCode[code] ?? 0) + 1;
  }
  if (result.usage) {
    s.usage.promptTokens += result.usage.promptTokens;
    s.usage.outputTokens += result.usage.outputTokens;
    s.usage.thoughtsTokens += result.usage.thoughtsTokens;
    s.usage.cachedTokens += result.usage.cachedTokens;
    s.usage.totalTokens += result.usage.totalTokens;
  }
}

/** Emits the BatchResults of one completed chunk, in input order. */
export async function* joinChunk(done: CompletedChunk, ctx: JoinContext): AsyncGenerator<BatchResult> {
  const rowsPath = joinPath(done.ref.dir, ROWS_FILE);
  const keys = new Map<string, number>();
  if (done.state.requests > 0) {
    let i = 0;
    for await (const { text } of linesWithOffsets(rowsPath)) {
      const key = extractRowKey(text);
      if (key !== undefined) keys.set(key, i);
      i++;
    }
  }
  const located = done.state.requests > 0 ? await locate(done, keys, ctx) : undefined;
  const readers = new Map<number, PositionalReader>();
  let ok = 0;
  let failed = 0;
  try {
    let i = 0;
    for await (const { text } of linesWithOffsets(rowsPath)) {
      const item = JSON.parse(text) as RowLine;
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
          const line = await reader.read(located.offset[i] as number, located.length[i] as number);
          const interpreted = interpret(JSON.parse(line), ctx);
          delete interpreted.retryable;
          if (interpreted.error && item.line !== undefined) interpreted.error.line = item.line;
          result = { key: item.key, row: item.row as never, ...interpreted };
        }
      }
      if (result.ok) ok++;
      else failed++;
      count(ctx, result);
      yield result;
      i++;
    }
  } finally {
    for (const r of readers.values()) await r.close();
  }
  ctx.emit({ type: 'chunk-emitted', chunk: done.ref.index, rows: ok + failed, ok, failed });
}

/** The key of a rows.jsonl line (`{"key":…,` comes first), without parsing the row. */
function extractRowKey(line: string): string | undefined {
  if (line.startsWith('{"key":"')) {
    // Find the end of the JSON string: the first quote not escaped.
    for (let i = 8; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) return JSON.parse(line.slice(7, i + 1)) as string;
    }
  }
  return (JSON.parse(line) as RowLine).key;
}

export async function* joinChunks(
  chunks: AsyncIterable<CompletedChunk>,
  ctx: JoinContext,
): AsyncGenerator<BatchResult> {
  for await (const done of chunks) {
    ctx.summary.chunks++;
    yield* joinChunk(done, ctx);
  }
}
