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
  if (typeof value === 'object')
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  return String(value);
}

function pathColumn(path: string, header = path): CsvColumn {
  return { header, value: (r) => getPath(r, path) };
}

/**
 * The default columns: the input's from `first`, the structured output's from `answered` (a
 * success: an error record has no output to take them from). An input column whose name is also a
 * result column's (`key`, `ok`, `text`, `output…`, `error_…`) is headed `row.<name>`, so that a
 * reader keyed by header never takes one for the other.
 */
function defaultCsvColumns(first: BatchResult, answered: BatchResult = first): CsvColumn[] {
  const output = answered.output;
  const outputColumns =
    output && typeof output === 'object' && !Array.isArray(output)
      ? Object.keys(output).map((name) => pathColumn(`output.${name}`))
      : [pathColumn('output')];
  const resultColumns = [
    pathColumn('ok'),
    pathColumn('text'),
    ...outputColumns,
    pathColumn('error.stage', 'error_stage'),
    pathColumn('error.code', 'error_code'),
    pathColumn('error.message', 'error_message'),
    pathColumn('error.line', 'error_line'),
  ];
  const taken = new Set(['key', ...resultColumns.map((c) => c.header)]);
  const columns: CsvColumn[] = [pathColumn('key')];
  const row = first.row && typeof first.row === 'object' ? Object.keys(first.row) : [];
  for (const name of row) {
    columns.push({
      header: taken.has(name) ? `row.${name}` : name,
      value: (r) => (r.row as Record<string, unknown> | undefined)?.[name],
    });
  }
  return [...columns, ...resultColumns];
}

/**
 * The results the default columns come from: the first with input columns (an unreadable row has
 * none) and the first success (an error record has no output); `complete` once both are there.
 */
function columnModels(results: BatchResult[]): {
  first: BatchResult;
  answered?: BatchResult;
  complete: boolean;
} {
  const withRow = results.find((r) => r.row && typeof r.row === 'object' && Object.keys(r.row).length > 0);
  const answered = results.find((r) => r.ok);
  return {
    first: withRow ?? (results[0] as BatchResult),
    ...(answered ? { answered } : {}),
    complete: withRow !== undefined && answered !== undefined,
  };
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
  // has none) and the first success (the output's columns: a failed first row has no output);
  // results wait for both, at most HEADER_WAIT of them.
  let waiting: BatchResult[] = [];
  const render = (results: BatchResult[]): string => {
    const cols = columns as CsvColumn[];
    let text = headerWritten ? '' : line(cols.map((c) => c.header));
    headerWritten = true;
    for (const r of results) {
      text += line(
        cols.map((c) => {
          try {
            return cell(c.value(r));
          } catch (err) {
            throw new Error(
              `csvSink: the column "${c.header}" failed on the result for key ${JSON.stringify(r.key)}: ${(err as Error).message}`,
              { cause: err },
            );
          }
        }),
      );
    }
    return text;
  };
  return new Writable({
    objectMode: true,
    // An output that cannot be opened fails the pipeline at once, not at the first result (which,
    // after a batch stage, comes when its jobs have run and been paid for).
    construct(callback) {
      callback(out.openError);
    },
    write(result: BatchResult, _encoding, callback) {
      if (!columns) {
        waiting.push(result);
        const models = columnModels(waiting);
        if (!models.complete && waiting.length < HEADER_WAIT) {
          callback();
          return;
        }
        columns = defaultCsvColumns(models.first, models.answered);
      }
      const batch = waiting.length > 0 ? waiting : [result];
      waiting = [];
      let wait: Promise<void> | undefined;
      try {
        wait = out.write(render(batch));
      } catch (err) {
        // A column that throws fails the pipeline (the file is not put in place), not the process.
        callback(err as Error);
        return;
      }
      if (wait) wait.then(() => callback(), callback);
      else callback();
    },
    final(callback) {
      let rest: string;
      try {
        if (waiting.length > 0) {
          const models = columnModels(waiting);
          columns ??= defaultCsvColumns(models.first, models.answered);
        }
        rest = columns ? render(waiting) : '';
      } catch (err) {
        callback(err as Error);
        return;
      }
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
