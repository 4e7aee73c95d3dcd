// Where each CSV record ends, told by csv-parse itself: a hook on its record step, so that records
// it never pushes (skipped with an error, dropped by on_record, the header) are counted too.

import type { Parser } from 'csv-parse';

/** What of csv-parse's state the hook reads (internal: csv-parse 5–7 keep these names). */
export interface ParserState {
  enabled: boolean;
  recordHasError: boolean;
  record: unknown[];
}

interface ParserApi {
  state: ParserState;
  options: { columns: unknown };
  __onRecord: (push: unknown) => unknown;
}

/**
 * Calls `ended(isHeader)` as each record ends (after the `from_line` lines), before csv-parse
 * pushes, skips or drops it, then `after()` once it has.
 */
export function onRecordEnd(parser: Parser, ended: (isHeader: boolean) => void, after: () => void): void {
  const api = (parser as unknown as { api: ParserApi }).api;
  const onRecord = api.__onRecord;
  api.__onRecord = function (this: ParserApi, push: unknown) {
    if (!this.state.enabled) return onRecord.call(this, push);
    ended(this.options.columns === true);
    const err = onRecord.call(this, push);
    after();
    return err;
  };
}
