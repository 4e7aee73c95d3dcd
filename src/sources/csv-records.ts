// Where each CSV record starts and ends, told by csv-parse itself (a hook on its record step, so
// that records it never pushes count too), and the bound on the bytes one record may hold.

import type { Parser } from 'csv-parse';

/** csv-parse feeds on at most this many bytes at a time, so that the bound is checked that often. */
const PIECE = 64 * 1024;

/** What of csv-parse's internal state is read and trimmed here (the same names in csv-parse 5–7). */
interface ParserApi {
  state: {
    enabled: boolean;
    recordHasError: boolean;
    record: unknown[];
    field: { length: number; size: number; buf: Buffer };
    rawBuffer?: { reset(): void };
    quoting: boolean;
    wasQuoting: boolean;
    bufBytesStart: number;
  };
  options: { columns: unknown };
  info: { bytes: number };
  __onRecord: (push: unknown) => unknown;
}

export interface RecordHooks {
  /** A record ends, its bytes [from, to), before csv-parse pushes, skips or drops it. */
  ended(isHeader: boolean, from: number, to: number): void;
  /** csv-parse is done with the record. */
  after(): void;
  /** The record being read has run past the bound: csv-parse reads it to its end without keeping it, then skips it. */
  over(): void;
}

/**
 * Hooks `hooks` into `parser`. Returns `end()`, for a record that ends with the input while quoting
 * (csv-parse raises its error then, and never reaches its record step).
 */
export function trackRecords(parser: Parser, maxRecordBytes: number, hooks: RecordHooks): () => void {
  const api = (parser as unknown as { api?: ParserApi }).api;
  // Internals, not API: package.json pins csv-parse to the version this was written and tested
  // against; a version that moved them fails here, loudly, rather than parsing wrong.
  const state = api?.state;
  if (
    !api ||
    !state ||
    typeof api.__onRecord !== 'function' ||
    typeof parser._transform !== 'function' ||
    typeof state.field?.length !== 'number' ||
    typeof state.bufBytesStart !== 'number' ||
    typeof api.info?.bytes !== 'number'
  ) {
    throw new Error(
      'csvSource: this csv-parse does not have the internals csvSource hooks into (it was written for csv-parse 7.0.3); install that version',
    );
  }
  /** Where the record being read starts in the input (moved past empty lines between records). */
  let from = 0;
  let fed = 0;
  let over = false;
  /** Fields of an oversize record dropped so far: csv-parse still needs their number. */
  let dropped = 0;

  const end = () => {
    if (over) {
      state.recordHasError = true;
      state.record.length += dropped;
    }
    hooks.ended(api.options.columns === true, from, api.info.bytes);
    from = api.info.bytes;
    over = false;
    dropped = 0;
  };
  const onRecord = api.__onRecord;
  api.__onRecord = function (this: ParserApi, push: unknown) {
    if (!this.state.enabled) {
      // A line before `from_line`: not a record, not even an oversize one.
      from = this.info.bytes;
      over = false;
      dropped = 0;
      return onRecord.call(this, push);
    }
    const wasOver = over;
    end();
    const err = onRecord.call(this, push);
    // csv-parse clears the flag only on its usual path, not where it returns early (a header, an
    // empty record skipped): left set, it would skip the next good record.
    if (wasOver) this.state.recordHasError = false;
    hooks.after();
    return err;
  };

  const bound = () => {
    const inRecord = state.record.length > 0 || state.field.length > 0 || state.quoting || state.wasQuoting;
    if (!inRecord) {
      from = state.bufBytesStart;
      return;
    }
    if (fed - from <= maxRecordBytes) return;
    // A line before `from_line` is trimmed the same, but is no record to report.
    if (!over && state.enabled) hooks.over();
    over = true;
    // csv-parse keeps reading the record (to find where it ends), into emptied buffers.
    dropped += state.record.length;
    state.record = [];
    if (state.field.size > PIECE) {
      state.field.buf = Buffer.allocUnsafe(PIECE);
      state.field.size = PIECE;
    }
    state.field.length = 0;
    state.rawBuffer?.reset();
  };
  const transform = parser._transform;
  parser._transform = function (chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void) {
    for (let at = 0; at < chunk.length; at += PIECE) {
      const piece = chunk.length > PIECE ? chunk.subarray(at, at + PIECE) : chunk;
      let called = false;
      let error: Error | null | undefined;
      transform.call(this, piece, encoding, (err?: Error | null) => {
        called = true;
        error = err;
      });
      // csv-parse has stopped (`to`, `to_line`): it calls back no more.
      if (!called) return;
      if (error) return done(error);
      fed += piece.length;
      bound();
    }
    done();
  };
  return end;
}
