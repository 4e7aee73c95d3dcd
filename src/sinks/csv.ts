// csvSink: BatchResults as CSV rows (csv-stringify): key, the input columns, ok, text, the
// output fields, the error. Same temp-file-and-rename guarantee as jsonlSink.

import { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { BatchResult } from '../types.js';
import { openTextTarget, type PathOrWritable } from './output-file.js';

/** A column: a header and how to get its value from a result. */
export interface CsvColumn {
  header: string;
  value: (result: BatchResult) => unknown;
}

export interface CsvSinkOptions {
  /**
   * The columns, in order. A string is a path into the result: `key`, `ok`, `text`,
   * `row.<column>`, `output.<field>`, `error.code`, `usage.promptTokens`… Default: key, every
   * input column, ok, text, every top-level output field (or `output` as JSON), error stage /
   * code / message / line, taken from the first result that has input columns.
   */
  columns?: Array<string | CsvColumn>;
  /** Column separator. Default ','. */
  delimiter?: string;
}

const HEADER_WAIT = 1000;

function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || current === undefined) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function pathColumn(path: string, header = path): CsvColumn {
  return { header, value: (r) => getPath(r, path) };
}

/** The default columns, from the first result. */
export function defaultCsvColumns(first: BatchResult): CsvColumn[] {
  const columns: CsvColumn[] = [pathColumn('key')];
  const row = first.row && typeof first.row === 'object' ? Object.keys(first.row) : [];
  for (const name of row) {
    columns.push({
      header: name === 'key' ? 'row.key' : name,
      value: (r) => (r.row as Record<string, unknown> | undefined)?.[name],
    });
  }
  columns.push(pathColumn('ok'), pathColumn('text'));
  const output = first.output;
  if (output && typeof output === 'object' && !Array.isArray(output)) {
    for (const name of Object.keys(output)) columns.push(pathColumn(`output.${name}`));
  } else {
    columns.push(pathColumn('output'));
  }
  columns.push(
    pathColumn('error.stage', 'error_stage'),
    pathColumn('error.code', 'error_code'),
    pathColumn('error.message', 'error_message'),
    pathColumn('error.line', 'error_line'),
  );
  return columns;
}

/**
 * Writes BatchResults as CSV with a header row. Given a path, the file appears only when the
 * pipeline ends successfully; given a Writable, rows go straight to it.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { csvSource, toRequests, geminiBatch, csvSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   csvSource('reviews.csv'),
 *   toRequests((row) => `Classify: ${row.review}`, { key: (row) => row.id }),
 *   geminiBatch({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/reviews' }),
 *   csvSink('reviews.out.csv', { columns: ['key', 'row.review', 'text', 'error.code'] }),
 * );
 * ```
 */
export function csvSink(target: PathOrWritable, options: CsvSinkOptions = {}): Writable {
  const out = openTextTarget(target);
  const delimiter = options.delimiter ?? ',';
  let columns: CsvColumn[] | undefined = options.columns?.map((c) =>
    typeof c === 'string' ? pathColumn(c) : c,
  );
  let headerWritten = false;
  const line = (cells: string[]) => stringify([cells], { delimiter });
  // Default columns come from the first result that has input columns (an unreadable first row
  // has none); results wait for it, at most HEADER_WAIT of them.
  let waiting: BatchResult[] = [];
  const render = (results: BatchResult[]): string => {
    const cols = columns as CsvColumn[];
    let text = headerWritten ? '' : line(cols.map((c) => c.header));
    headerWritten = true;
    for (const r of results) text += line(cols.map((c) => cell(c.value(r))));
    return text;
  };
  return new Writable({
    objectMode: true,
    write(result: BatchResult, _encoding, callback) {
      if (!columns) {
        waiting.push(result);
        const hasColumns = result.row && typeof result.row === 'object' && Object.keys(result.row).length > 0;
        if (!hasColumns && waiting.length < HEADER_WAIT) {
          callback();
          return;
        }
        columns = defaultCsvColumns(hasColumns ? result : (waiting[0] as BatchResult));
      }
      const batch = waiting.length > 0 ? waiting : [result];
      waiting = [];
      const wait = out.write(render(batch));
      if (wait) wait.then(() => callback(), callback);
      else callback();
    },
    final(callback) {
      if (waiting.length > 0) columns ??= defaultCsvColumns(waiting[0] as BatchResult);
      const rest = columns ? render(waiting) : '';
      waiting = [];
      Promise.resolve(rest ? out.write(rest) : undefined)
        .then(() => out.finish())
        .then(() => callback(), callback);
    },
    destroy(err, callback) {
      if (err) out.abandon().finally(() => callback(err));
      else callback(err);
    },
  });
}
