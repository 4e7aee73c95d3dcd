// ndjsonSource: newline-delimited JSON → row objects, each knowing its input line. A line that is
// not a JSON object becomes a read-error row; the run goes on.
//
// split2 (the splitter the `ndjson` package wraps) is used directly: `ndjson` cannot say which
// line failed, and either stops at the first bad line (strict) or drops it silently.

import { pipeline, type Readable } from 'node:stream';
import split2 from 'split2';
import { ROW_LINE, type Row, type SourceRow } from '../types.js';
import { readErrorRow } from './csv.js';
import { openInput, type PathOrReadable } from './open.js';

export interface NdjsonSourceOptions {
  /**
   * Longest line accepted, in characters (default 64 Mi). A longer line becomes an error record; one
   * so long that no line end arrives within this many characters stops the run (the split buffer
   * is bounded by it).
   */
  maxLineLength?: number;
  /** `'error'` (default): a line with invalid UTF-8 becomes an error record; `'keep'`: passed on. */
  invalidUtf8?: 'error' | 'keep';
}

/**
 * Reads newline-delimited JSON (one object per line, LF or CRLF, blank lines skipped) into rows.
 * Each row carries its 1-based line ({@link rowLine}); an unparsable line, or one that is not an
 * object, becomes an error record with its line number.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { ndjsonSource, toRequests, geminiBatch, csvSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   ndjsonSource('tickets.ndjson'),
 *   toRequests((row) => `Summarise: ${row.body}`, { key: (row) => String(row.ticketId) }),
 *   geminiBatch({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/tickets' }),
 *   csvSink('tickets.out.csv'),
 * );
 * ```
 */
export function ndjsonSource<R extends Row = Row>(
  input: PathOrReadable,
  options: NdjsonSourceOptions = {},
): Readable & AsyncIterable<SourceRow<R>> {
  const { maxLineLength = 64 * 1024 * 1024, invalidUtf8 = 'error' } = options;
  let lineNo = 0;
  const splitter = split2(
    (line: string): SourceRow | undefined => {
      lineNo++;
      const text = lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
      if (text.trim() === '') return undefined;
      if (text.length > maxLineLength) {
        return readErrorRow(
          `the line is ${text.length} characters long, more than maxLineLength (${maxLineLength})`,
          lineNo,
        );
      }
      if (invalidUtf8 === 'error' && text.includes('\uFFFD')) {
        return readErrorRow('the line holds bytes that are not valid UTF-8', lineNo);
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return readErrorRow(`invalid JSON: ${(err as Error).message}`, lineNo);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return readErrorRow(
          `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
          lineNo,
        );
      }
      const row = value as SourceRow;
      row[ROW_LINE] = lineNo;
      return row;
    },
    { maxLength: maxLineLength },
  );
  pipeline(openInput(input, 'input'), splitter, () => {});
  return splitter as Readable & AsyncIterable<SourceRow<R>>;
}
