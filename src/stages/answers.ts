// Where each row's answer is, across a chunk's job attempts: a key index of the chunk's rows and,
// per row, which attempt's results file answers it and at what byte offset. A result line counts
// only for a key its own attempt was sent; among those, the latest attempt that answered a key wins
// (a key is only sent again when its earlier answer was missing or a passing error). Memory is
// bounded by the chunk, never by the answers themselves.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RETRYABLE_GRPC_CODES } from '../gemini/result.js';
import type { AttemptState, ChunkState } from '../state/run-state.js';
import { MAX_RESULT_LINE_BYTES, type RawLine, rawLineBatches } from '../util/lines.js';
import { REQUESTS_FILE, ROWS_FILE } from './open-chunk.js';

/** The `key` field of a whole line parsed as JSON (a string, or a number as its string). */
function parsedKey(line: string, numbers: boolean): string | undefined {
  try {
    const key = (JSON.parse(line) as { key?: unknown } | null)?.key;
    if (typeof key === 'string') return key;
    if (numbers && typeof key === 'number') return String(key);
  } catch {
    // Not JSON: no key.
  }
  return undefined;
}

/** Whether a result line (not a `{"response"…` one) is a per-request error worth sending again. */
function isRetryableErrorLine(line: string): boolean {
  try {
    const code = (JSON.parse(line) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'number' && RETRYABLE_GRPC_CODES.has(code);
  } catch {
    return false;
  }
}

const KEY_FIELD = Buffer.from(',"key":');
const KEY_PREFIX = Buffer.from('{"key":"');
const RESPONSE_PREFIX = Buffer.from('{"response"');

/**
 * The key of a result line without parsing the whole line: real lines end with `,"key":…}`, and
 * only that tail is decoded. When the line does not end that way, the whole line is parsed.
 */
export function extractKeyRaw({ buf, start, end }: RawLine): string | undefined {
  if (end - start > KEY_FIELD.length && buf[end - 1] === 125 /* } */) {
    const at = buf.lastIndexOf(KEY_FIELD, end - KEY_FIELD.length);
    if (at >= start) {
      try {
        const key = JSON.parse(buf.toString('utf8', at + KEY_FIELD.length, end - 1)) as unknown;
        if (typeof key === 'string') return key;
        if (typeof key === 'number') return String(key);
      } catch {
        // Not the last top-level field: read the whole line below.
      }
    }
  }
  return parsedKey(buf.toString('utf8', start, end), true);
}

/** The key at the start of a spooled line (`{"key":"…",…}`: rows, requests): only the key is decoded. */
export function leadingKeyRaw({ buf, start, end }: RawLine): string | undefined {
  if (
    end - start > KEY_PREFIX.length &&
    buf.compare(KEY_PREFIX, 0, KEY_PREFIX.length, start, start + KEY_PREFIX.length) === 0
  ) {
    for (let i = start + KEY_PREFIX.length; i < end; i++) {
      const c = buf[i];
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) return JSON.parse(buf.toString('utf8', start + 7, i + 1)) as string;
    }
  }
  return parsedKey(buf.toString('utf8', start, end), false);
}

function startsWithResponse({ buf, start, end }: RawLine): boolean {
  return (
    end - start >= RESPONSE_PREFIX.length &&
    buf.compare(RESPONSE_PREFIX, 0, RESPONSE_PREFIX.length, start, start + RESPONSE_PREFIX.length) === 0
  );
}

export interface AnswerIndex {
  rows: number;
  /** How many of the chunk's attempts (from the first) have been indexed. */
  attempts: number;
  /** Per row: index into `state.attempts` of the answering attempt, or -1. */
  attempt: Int32Array;
  offset: Float64Array;
  length: Float64Array;
  /** Per row: 1 when its answer is a per-request error worth another try (only with `classify`). */
  retryable: Uint8Array;
  /** Per attempt read: lines for keys it was not sent, second answers to a key, unreadable lines. */
  anomalies: Array<{
    attempt: number;
    job?: string;
    unknownKeys: number;
    duplicateKeys: number;
    malformedLines: number;
  }>;
}

/** Row index by key, for every row of the chunk in input order (read from rows.jsonl). */
export async function readRowKeys(dir: string): Promise<Map<string, number>> {
  const keys = new Map<string, number>();
  let rows = 0;
  for await (const lines of rawLineBatches(join(dir, ROWS_FILE))) {
    for (const line of lines) {
      const key = leadingKeyRaw(line);
      if (key !== undefined) keys.set(key, rows);
      rows++;
    }
  }
  return keys;
}

/** A row's marks in one attempt's pass (a byte per row): its key was sent in that attempt; answered in it. */
const SENT = 1;
const ANSWERED = 2;

/**
 * Marks in `here` the rows whose keys `attempt` was sent. An attempt sent as many keys as the chunk
 * has rows was sent them all (the usual first job), and the first job was sent every row but those
 * the chunker reports `unsent`: nothing to read. Otherwise (a resubmission, or a first job after a
 * restart) its requests file is read, decoding only the key at the start of each line. Without that
 * file (removed by hand) the attempt is taken to have been sent every row.
 */
async function markSent(
  dir: string,
  attempt: AttemptState,
  keys: Map<string, number>,
  here: Uint8Array,
  unsent: number[] | undefined,
): Promise<void> {
  const path = join(dir, attempt.requestsFile);
  if (unsent && attempt.requestsFile === REQUESTS_FILE && attempt.requests + unsent.length === here.length) {
    here.fill(SENT);
    for (const row of unsent) here[row] = 0;
    return;
  }
  if (attempt.requests >= here.length || !existsSync(path)) {
    here.fill(SENT);
    return;
  }
  for await (const lines of rawLineBatches(path)) {
    for (const line of lines) {
      const key = leadingKeyRaw(line);
      const row = key === undefined ? undefined : keys.get(key);
      if (row !== undefined) here[row] = SENT;
    }
  }
}

/**
 * Locates every answer in a chunk's attempts' results files. `keys` (row index by key) comes from
 * the chunker when it has it, else from rows.jsonl. Given the index of an earlier pass (`earlier`),
 * only the attempts added since are read, and it is updated in place: each results file is read
 * once however many times the chunk is sent again.
 */
export async function indexAnswers(
  dir: string,
  state: ChunkState,
  classify = false,
  rowKeys?: Map<string, number>,
  earlier?: AnswerIndex,
  unsent?: number[],
): Promise<AnswerIndex> {
  const rows = state.rows;
  const index: AnswerIndex = earlier ?? {
    rows,
    attempts: 0,
    attempt: new Int32Array(rows).fill(-1),
    offset: new Float64Array(rows),
    length: new Float64Array(rows),
    retryable: new Uint8Array(rows),
    anomalies: [],
  };
  if (index.attempts >= state.attempts.length) return index;
  const keys = rowKeys ?? (await readRowKeys(dir));
  // In attempt order: a later attempt's answer to a key it was sent again supersedes an earlier one.
  for (let ai = index.attempts; ai < state.attempts.length; ai++) {
    const attempt = state.attempts[ai];
    index.attempts = ai + 1;
    if (!attempt?.resultsFile) continue;
    // One byte per row for this pass only: a line for a key this attempt was not sent (even a key of
    // the chunk that an earlier attempt was sent: a misattributed answer) is unknown here.
    const here = new Uint8Array(rows);
    await markSent(dir, attempt, keys, here, unsent);
    const counts = {
      attempt: attempt.n,
      ...(attempt.job ? { job: attempt.job } : {}),
      unknownKeys: 0,
      duplicateKeys: 0,
      malformedLines: 0,
    };
    for await (const lines of rawLineBatches(join(dir, attempt.resultsFile), MAX_RESULT_LINE_BYTES)) {
      for (const line of lines) {
        const key = extractKeyRaw(line);
        if (key === undefined) {
          counts.malformedLines++;
          continue;
        }
        const row = keys.get(key);
        const marks = row === undefined ? 0 : (here[row] as number);
        if (row === undefined || !(marks & SENT)) {
          counts.unknownKeys++;
          continue;
        }
        if (marks & ANSWERED) {
          counts.duplicateKeys++;
          continue;
        }
        here[row] = marks | ANSWERED;
        index.attempt[row] = ai;
        index.offset[row] = line.offset;
        index.length[row] = line.length;
        index.retryable[row] =
          classify &&
          !line.oversize &&
          !startsWithResponse(line) &&
          isRetryableErrorLine(line.buf.toString('utf8', line.start, line.end))
            ? 1
            : 0;
      }
    }
    index.anomalies.push(counts);
  }
  return index;
}
