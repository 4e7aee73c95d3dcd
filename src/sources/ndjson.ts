// ndjsonSource: newline-delimited JSON → row objects, each knowing its input line. A line that is
// not a JSON object becomes a read-error row; the run goes on.
//
// Lines are split here, on bytes, rather than with the `ndjson` package or split2 (which it wraps):
// `ndjson` cannot say which line failed and either stops at the first bad line or drops it
// silently; split2 ends the stream when a line outgrows its buffer, and re-scans the growing
// string of a long line on every read (quadratic: 15 s for one 50 MB line). Here a line is
// collected as a list of buffers and decoded once, and a line past the limit is skipped to its end
// without being kept, then reported as an error record.

import { isUtf8 } from 'node:buffer';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { parseOptions } from '../options.js';
import { ROW_LINE, type Row, type SourceRow } from '../types.js';
import { readErrorRow } from './csv.js';
import { openInput, type PathOrReadable } from './open.js';

export interface NdjsonSourceOptions {
  /**
   * Longest line accepted, in characters (default 64 Mi). A longer line becomes an error record and
   * the run goes on; it is never held in memory whole (past 3 bytes per character it is skipped).
   */
  maxLineLength?: number;
  /**
   * `'error'` (default): a line with invalid UTF-8 becomes an error record; `'keep'`: passed on, the
   * invalid bytes as U+FFFD. A U+FFFD written as valid UTF-8 is a character like any other.
   */
  invalidUtf8?: 'error' | 'keep';
}

const ndjsonOptions = z.strictObject({
  maxLineLength: z
    .number()
    .int()
    .min(1)
    .default(64 * 1024 * 1024),
  invalidUtf8: z.enum(['error', 'keep']).default('error'),
});

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
  const { maxLineLength, invalidUtf8 } = parseOptions(ndjsonOptions, options, 'ndjsonSource');
  const tooLong = (length: number, lineNo: number, unit: string) =>
    readErrorRow(
      `the line is ${length} ${unit} long, more than maxLineLength (${maxLineLength} characters)`,
      lineNo,
    );
  const toRow = (line: string, lineNo: number, bytes: Buffer): SourceRow | undefined => {
    const text = lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
    if (text.trim() === '') return undefined;
    if (text.length > maxLineLength) return tooLong(text.length, lineNo, 'characters');
    // A U+FFFD is invalid bytes only when the line's bytes say so (it may be the character itself).
    if (invalidUtf8 === 'error' && text.includes('\uFFFD') && !isUtf8(bytes)) {
      return readErrorRow('the line holds bytes that are not valid UTF-8', lineNo);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
      // 64-bit ids (> 2^53) would be rounded to a neighbour, silently: kept as strings of their digits.
      if (LONG_DIGITS.test(text) && hasUnsafeInteger(value)) value = JSON.parse(quoteUnsafeIntegers(text));
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
  };
  // A UTF-16 unit takes at most 3 bytes in UTF-8: a line past that many bytes is too long for sure.
  const splitter = new LineSplitter(3 * maxLineLength, toRow, (bytes, lineNo) =>
    tooLong(bytes, lineNo, 'bytes'),
  );
  pipeline(openInput(input, 'input'), splitter, () => {});
  return splitter as Readable & AsyncIterable<SourceRow<R>>;
}

const LONG_DIGITS = /\d{16}/;

function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (typeof value !== 'object' || value === null) return false;
  for (const v of Object.values(value)) if (hasUnsafeInteger(v)) return true;
  return false;
}

/** The JSON text with every integer literal beyond Number's exact range put in quotes. */
function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let end = i + 1;
      while (end < text.length && /[0-9.eE+-]/.test(text[end] as string)) end++;
      const token = text.slice(i, end);
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(from, i)}"${token}"`;
        from = end;
      }
      i = end - 1;
    }
  }
  return out + text.slice(from);
}

/** Bytes in, one row per line out (LF or CRLF: a CR left at the end is blank to `trim` and JSON). */
class LineSplitter extends Transform {
  private parts: Buffer[] = [];
  private held = 0;
  /** Bytes of a line past `maxBytes`, being skipped to its end (-1: not skipping). */
  private skipped = -1;
  private lineNo = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly toRow: (line: string, lineNo: number, bytes: Buffer) => SourceRow | undefined,
    private readonly overLong: (bytes: number, lineNo: number) => SourceRow,
  ) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      this.addPiece(buf.subarray(from, nl));
      this.endLine();
      from = nl + 1;
    }
    if (from < buf.length) this.addPiece(buf.subarray(from));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.held > 0 || this.skipped >= 0) this.endLine();
    done();
  }

  private addPiece(piece: Buffer): void {
    if (this.skipped >= 0) this.skipped += piece.length;
    else if (this.held + piece.length > this.maxBytes) {
      this.skipped = this.held + piece.length;
      this.parts = [];
      this.held = 0;
    } else if (piece.length > 0) {
      this.parts.push(piece);
      this.held += piece.length;
    }
  }

  private endLine(): void {
    this.lineNo++;
    let row: SourceRow | undefined;
    if (this.skipped >= 0) {
      // Not decoded: its length is reported in bytes.
      row = this.overLong(this.skipped, this.lineNo);
      this.skipped = -1;
    } else {
      const line = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.held);
      this.parts = [];
      this.held = 0;
      row = this.toRow(line.toString('utf8'), this.lineNo, line);
    }
    if (row) this.push(row);
  }
}
