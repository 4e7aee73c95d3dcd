// toRequests: row → BatchItem { key, request, row, line }. Rows that fail the row schema, whose
// key is empty, or whose builder throws become error items: they reach the output as error
// records, never crash the run, never vanish.

import { Transform } from 'node:stream';
import type { z } from 'zod';
import { GbsError } from '../errors.js';
import { type RequestSpec, toRestRequest } from '../gemini/request.js';
import { type BatchItem, type ErrorInfo, ROW_ERROR, ROW_LINE, type Row, type SourceRow } from '../types.js';

export interface ToRequestsOptions<R> {
  /**
   * The row's key: a non-empty string or a number, unique in the input. Default: the row's 0-based
   * ordinal. Anything else makes the row an error record.
   */
  key?: (row: R, ordinal: number) => unknown;
  /**
   * Rows are parsed with it first. A failing row becomes an error record (stage `validate`) with
   * the raw row; a passing row continues as the schema's output (coerced; keys the schema does not
   * name are dropped unless it keeps them, e.g. `z.looseObject`).
   */
  rowSchema?: z.ZodType<R>;
}

export type RequestBuilder<R> = (row: R, ordinal: number) => RequestSpec | Promise<RequestSpec>;

function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(row)'}: ${i.message}`)
    .join('; ');
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The pure core of toRequests: one row (and its ordinal) → one BatchItem. */
export function makeItemBuilder<R = Row>(build: RequestBuilder<R>, options: ToRequestsOptions<R> = {}) {
  if (typeof build !== 'function') {
    throw new GbsError('GBS_INVALID_OPTION', `Expected \`build\` to be a function, got ${typeof build}`, {
      option: 'build',
    });
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new GbsError('GBS_INVALID_OPTION', `Expected \`key\` to be a function, got ${typeof options.key}`, {
      option: 'key',
    });
  }
  const { key: keyOf, rowSchema } = options;
  if (rowSchema !== undefined && typeof (rowSchema as { safeParse?: unknown })?.safeParse !== 'function') {
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `Expected \`rowSchema\` to be a zod schema, got ${JSON.stringify(rowSchema)}`,
      {
        option: 'rowSchema',
      },
    );
  }

  /** A key must be a non-empty string or a number; anything else is reported, not stringified. */
  const keyOfRow = (row: unknown, ordinal: number): string | { error: Omit<ErrorInfo, 'line'> } => {
    let raw: unknown;
    try {
      raw = keyOf ? keyOf(row as R, ordinal) : ordinal;
    } catch (err) {
      return {
        error: {
          stage: 'build',
          code: 'GBS_BUILD_FAILED',
          message: `the key function threw: ${message(err)}`,
        },
      };
    }
    if (typeof raw === 'string' && raw !== '') return raw;
    if (typeof raw === 'number') return String(raw);
    const what =
      raw === '' || raw === undefined || raw === null
        ? 'an empty key'
        : `a ${typeof raw}, not a string or a number`;
    return {
      error: { stage: 'validate', code: 'GBS_EMPTY_KEY', message: `the key function returned ${what}` },
    };
  };

  const fail = (
    key: string,
    row: unknown,
    line: number | undefined,
    error: Omit<ErrorInfo, 'line'>,
  ): BatchItem<R> => ({
    key,
    row: row as R,
    ...(line !== undefined ? { line } : {}),
    error: { ...error, ...(line !== undefined ? { line } : {}) },
  });

  return (input: SourceRow<R> | R, ordinal: number): BatchItem<R> | Promise<BatchItem<R>> => {
    const source = input as SourceRow;
    const line = source?.[ROW_LINE];
    const fallbackKey = keyOf ? `#${ordinal}` : String(ordinal);
    const readError = source?.[ROW_ERROR];
    if (readError) return fail(fallbackKey, input, line, readError);

    let row = input as R;
    if (rowSchema) {
      let parsed: ReturnType<typeof rowSchema.safeParse> | { thrown: unknown };
      try {
        parsed = rowSchema.safeParse(input);
      } catch (err) {
        // zod does not catch what a transform or refine throws (nor an async one, in safeParse).
        parsed = { thrown: err };
      }
      if ('thrown' in parsed || !parsed.success) {
        // The record keeps the raw row, and its own key when the key function can read it.
        const own = keyOfRow(input, ordinal);
        return fail(typeof own === 'string' ? own : fallbackKey, input, line, {
          stage: 'validate',
          code: 'GBS_ROW_INVALID',
          message:
            'thrown' in parsed
              ? `rowSchema threw on this row: ${message(parsed.thrown)}`
              : `the row does not match rowSchema: ${describeZodError(parsed.error)}`,
        });
      }
      row = parsed.data;
    }

    const key = keyOfRow(row, ordinal);
    if (typeof key !== 'string') return fail(fallbackKey, row, line, key.error);

    const finish = (spec: RequestSpec): BatchItem<R> => {
      try {
        return { key, request: toRestRequest(spec), row, ...(line !== undefined ? { line } : {}) };
      } catch (err) {
        return fail(key, row, line, {
          stage: 'build',
          code: 'GBS_BUILD_FAILED',
          message: `the request is not valid: ${message(err)}`,
        });
      }
    };
    const buildFailed = (err: unknown) =>
      fail(key, row, line, {
        stage: 'build',
        code: 'GBS_BUILD_FAILED',
        message: `the request builder threw: ${message(err)}`,
      });
    let spec: RequestSpec | Promise<RequestSpec>;
    try {
      spec = build(row, ordinal);
    } catch (err) {
      return buildFailed(err);
    }
    if (spec && typeof (spec as Promise<RequestSpec>).then === 'function') {
      return (spec as Promise<RequestSpec>).then(finish, buildFailed);
    }
    return finish(spec as RequestSpec);
  };
}

/**
 * Turns each row into a batch item `{ key, request, row }`. `build` returns a prompt string or the
 * SDK's `{ contents, config }` (the same `config` as `generateContent`), converted to the REST
 * request the batch file needs exactly as the SDK converts it. A row failing `rowSchema`, an empty
 * key, or a builder that throws becomes an error record (stage `validate` / `build`, with its line).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { toRequests } from 'gemini-batch-stream';
 *
 * const stage = toRequests(
 *   (row) => ({ contents: `Classify: ${row.review}`, config: { temperature: 0, systemInstruction: 'Be terse.' } }),
 *   { key: (row) => row.id, rowSchema: z.object({ id: z.string(), review: z.string() }) },
 * );
 * ```
 */
export function toRequests<R = Row>(build: RequestBuilder<R>, options: ToRequestsOptions<R> = {}): Transform {
  const toItem = makeItemBuilder(build, options);
  let ordinal = 0;
  return new Transform({
    objectMode: true,
    transform(row, _encoding, callback) {
      const item = toItem(row, ordinal++);
      if (item instanceof Promise) item.then((value) => callback(null, value), callback);
      else callback(null, item);
    },
  });
}
