// csvSource: a CSV file (or Readable) → row objects, each knowing its input line. Records the
// parser cannot read become read-error rows, so they reach the output as error records.

import { pipeline, type Readable } from 'node:stream';
import { type Options as CsvParseOptions, type Parser, parse } from 'csv-parse';
import { z } from 'zod';
import { GbsError } from '../errors.js';
import { parseOptions } from '../options.js';
import { ROW_ERROR, ROW_LINE, type Row, type SourceRow } from '../types.js';
import { trackRecords } from './csv-records.js';
import { openInput, type PathOrReadable } from './open.js';
import { Utf8Watch } from './utf8.js';

const UTF8 = /^utf-?8$/i;

export interface CsvSourceOptions
  extends Omit<CsvParseOptions, 'on_record' | 'onRecord' | 'on_skip' | 'onSkip'> {
  /** csv-parse's record hook: return the record (changed or not), or null to drop it. */
  on_record?: (record: Row, context: unknown) => Row | null | undefined;
  /**
   * What to do with a record whose bytes were not valid UTF-8 (they decode to U+FFFD):
   * `'error'` (default) turns it into an error record, `'keep'` passes it on. Set csv-parse's
   * `encoding` (e.g. `'latin1'`) for files that are not UTF-8. A U+FFFD written as valid UTF-8
   * is a character like any other: only invalid bytes within a record make it an error (csv-parse
   * decodes the bytes itself, so they are watched on their way in).
   */
  invalidUtf8?: 'error' | 'keep';
  /**
   * The most bytes one record may take in the input (default 64 MiB, at least 64 KiB: it is checked
   * every 64 KiB of input, so a record may pass it by up to that much). A longer record becomes an
   * error record and the source goes on: csv-parse reads it to its end without keeping it.
   */
  maxRecordBytes?: number;
}

/** The default of `maxRecordBytes`, as NDJSON's `maxLineLength`. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** csvSource's own options; csv-parse's pass through as they are (csv-parse checks them). */
const csvOwnOptions = z.looseObject({
  invalidUtf8: z.enum(['error', 'keep']).default('error'),
  // Checked every 64 KiB of input: a smaller bound could not be held.
  maxRecordBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .default(DEFAULT_MAX_RECORD_BYTES),
  on_record: z
    .custom<NonNullable<CsvSourceOptions['on_record']>>((v) => typeof v === 'function', 'expected a function')
    .optional(),
});

/** csv-parse's own bound: with skip_records_with_error it drops every row after an oversize one. */
function refuseMaxRecordSize(options: object): void {
  for (const name of ['max_record_size', 'maxRecordSize']) {
    const value = (options as Record<string, unknown>)[name];
    // 0 is csv-parse's "no bound": harmless.
    if (value === undefined || value === 0) continue;
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `csvSource does not take csv-parse's \`${name}\` (got ${JSON.stringify(value)}): csv-parse would drop every row after an oversize record. Use \`maxRecordBytes\` (default 64 MiB): an oversize record becomes an error record and the rows after it are read.`,
      { option: name },
    );
  }
}

/** A row the source could not read: it travels on as an error record. */
export function readErrorRow(message: string, line: number | undefined): SourceRow {
  const row = {} as SourceRow;
  row[ROW_ERROR] = { stage: 'read', code: 'GBS_INPUT_PARSE', message, ...(line ? { line } : {}) };
  if (line) row[ROW_LINE] = line;
  return row;
}

function checkedHeader(line: number, oversize: () => boolean): (header: string[]) => string[] {
  return (header) => {
    // What is left of an oversize header would name the columns wrongly for every row.
    if (oversize()) {
      throw new GbsError(
        'GBS_INPUT_PARSE',
        'The CSV header is longer than maxRecordBytes: no row could be read by its column names (an unclosed quote in the header?).',
        { line },
      );
    }
    const seen = new Map<string, number>();
    header.forEach((name, i) => {
      const first = seen.get(name);
      if (first !== undefined) {
        throw new GbsError(
          'GBS_INPUT_PARSE',
          `The CSV header names the column ${JSON.stringify(name)} twice (columns ${first + 1} and ${i + 1}): one of them would be lost. Rename one in the file, or pass csvSource's \`columns\` (an array of names, or a function of the header row).`,
          { line },
        );
      }
      seen.set(name, i);
    });
    return header;
  };
}

/** One pass over a record's values: CRLFs inside them, and U+FFFD (bytes that were not UTF-8). */
function scan(record: Row, multiLine = true): { crlf: number; replacement: boolean } {
  let crlf = 0;
  let replacement = false;
  for (const key in record) {
    const v = record[key];
    if (typeof v !== 'string') continue;
    if (multiLine && v.includes('\r\n')) crlf += v.split('\r\n').length - 1;
    if (v.includes('\uFFFD')) replacement = true;
  }
  return { crlf, replacement };
}

/**
 * Reads a CSV file into row objects (header row → keys, by default) with csv-parse. A BOM and
 * CRLF line ends are handled; each row carries the 1-based line it starts on ({@link rowLine});
 * a record the parser rejects (ragged row, broken quote) or that holds invalid UTF-8 becomes an
 * error record instead of stopping the run. Options are csv-parse's, plus `invalidUtf8`.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { csvSource, toRequests, geminiBatch, jsonlSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   csvSource('reviews.csv'),
 *   toRequests((row) => `Classify: ${row.review}`, { key: (row) => String(row.id) }),
 *   geminiBatch({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/reviews' }),
 *   jsonlSink('reviews.out.jsonl'),
 * );
 * ```
 */
export function csvSource<R extends Row = Record<string, string>>(
  input: PathOrReadable,
  options: CsvSourceOptions = {},
): Readable & AsyncIterable<SourceRow<R>> {
  refuseMaxRecordSize(options);
  const {
    invalidUtf8,
    maxRecordBytes,
    on_record: userOnRecord,
    ...csvOptions
  } = parseOptions(csvOwnOptions, options, 'csvSource') as z.output<typeof csvOwnOptions> & CsvParseOptions;
  // The default header handling refuses a header that names a column twice: csv-parse would keep
  // the last value only, and the other column's values would be lost without a word.
  // `columns: true` is the same header handling, so it gets the same check.
  const columns =
    csvOptions.columns === undefined || csvOptions.columns === true
      ? checkedHeader(Number(csvOptions.from_line ?? 1) || 1, () => oversize)
      : csvOptions.columns;
  // A record starts after the previous one ends, past any empty or comment lines in between.
  // csv-parse counts a CRLF inside a quoted field as two lines; `crlfExtra` takes that back.
  let lastEnd = (Number(csvOptions.from_line ?? 1) || 1) - 1;
  let lastEmpty = 0;
  let lastComment = 0;
  let crlfExtra = 0;
  const advance = (c: { lines: number; empty_lines: number; comment_lines: number }): number => {
    const start = lastEnd + 1 + (c.empty_lines - lastEmpty) + (c.comment_lines - lastComment);
    lastEnd = c.lines - crlfExtra;
    lastEmpty = c.empty_lines;
    lastComment = c.comment_lines;
    return start;
  };
  // A record's U+FFFD counts as invalid bytes only when an invalid sequence starts within the
  // record's bytes (when the input is not read as UTF-8: always).
  const utf8 =
    invalidUtf8 === 'error' && UTF8.test(String(csvOptions.encoding ?? 'utf8')) ? new Utf8Watch() : undefined;
  // The record being read: its first line, whether invalid UTF-8 starts in its bytes, the first
  // error csv-parse raised for it, and whether it ran past maxRecordBytes.
  let record = { start: 0, invalidBytes: false };
  let error: string | undefined;
  let oversize = false;
  let parser: Parser | undefined;
  const csvParseOptions = {
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    ...csvOptions,
    columns,
    // csv-parse may raise several errors for one record (each stray quote, then its length): the
    // first one is kept, and the error row is pushed when the record ends (`finish`).
    on_skip: (err: (Error & { code?: string }) | undefined) => {
      if (!err) return;
      // csv-parse's own line numbers count a CRLF inside quotes twice: correct the ones it quotes.
      const message = err.message.replace(
        /\b(on|at) line (\d+)/g,
        (_m, w: string, n: string) => `${w} line ${Number(n) - crlfExtra}`,
      );
      // Raised at the end of the input, for a record that never ends otherwise.
      if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
        error = error === undefined ? message : oversize ? `${error}; ${message}` : error;
        endRecord();
        finish();
      } else error ??= message;
    },
    ...(userOnRecord ? { on_record: userOnRecord } : {}),
  } as unknown as CsvParseOptions;
  parser = parse(csvParseOptions);
  // Each record's line is read from the parser's live counters as the record ends (the same
  // moment an `on_record` hook would see them, without the context object it builds per record).
  const info = parser.info as unknown as {
    lines: number;
    empty_lines: number;
    comment_lines: number;
    /** Bytes of input parsed: at a record's end, where it ends. */
    bytes: number;
  };
  const state = (parser as unknown as { state: { record: unknown[] } }).state;
  /** The record ends: note its lines and bytes, whether or not csv-parse passes it on. */
  const ended = (_isHeader: boolean, from: number, to: number) => {
    // A record on one line has no CRLF inside its fields: only a multi-line one is scanned for them.
    if (info.lines - crlfExtra - lastEnd > 1) crlfExtra += scan(state.record as unknown as Row).crlf;
    // Asked for every record, so that the watch forgets what lies behind.
    record = { start: advance(info), invalidBytes: utf8 ? utf8.invalidIn(from, to) : true };
  };
  const finish = () => {
    if (error === undefined) return;
    const span =
      lastEnd > record.start ? ` (the unreadable record spans lines ${record.start}–${lastEnd})` : '';
    // Pushed in the middle of parsing, so the error row keeps its place among the records.
    push(readErrorRow(`${error}${span}`, record.start));
    error = undefined;
    oversize = false;
  };
  const endRecord = trackRecords(parser, maxRecordBytes, {
    ended,
    after: finish,
    over: () => {
      oversize = true;
      error ??= `the record is longer than maxRecordBytes (${maxRecordBytes} bytes): it was read to its end without being kept (an unclosed quote?)`;
    },
  });
  const readAsUtf8 = () =>
    UTF8.test(String((parser as unknown as { options: { encoding?: unknown } }).options.encoding));
  const push = parser.push.bind(parser);
  parser.push = (pushed: unknown): boolean => {
    if (pushed === null || typeof pushed !== 'object' || (pushed as SourceRow)[ROW_ERROR])
      return push(pushed);
    const row = pushed as SourceRow;
    // csv-parse switches to UTF-16 on a UTF-16 byte order mark: the watch's offsets mean nothing then.
    if (invalidUtf8 === 'error' && scan(row, false).replacement && (record.invalidBytes || !readAsUtf8())) {
      return push(
        readErrorRow(
          `the record holds bytes that are not valid UTF-8 (set csvSource's \`encoding\`, e.g. 'latin1', or \`invalidUtf8: 'keep'\`)`,
          record.start,
        ),
      );
    }
    row[ROW_LINE] = record.start;
    return push(row);
  };
  if (utf8) pipeline(openInput(input, 'input'), utf8, parser, () => {});
  else pipeline(openInput(input, 'input'), parser, () => {});
  return parser as Readable & AsyncIterable<SourceRow<R>>;
}
