// Typed errors with stable string codes (GBS_*), a `cause` where one exists, and context fields.

/** Every error code the library throws or puts in an error record. */
export type GbsErrorCode =
  | 'GBS_INVALID_OPTION'
  | 'GBS_DUPLICATE_KEY'
  | 'GBS_EMPTY_KEY'
  | 'GBS_INPUT_PARSE'
  | 'GBS_ROW_INVALID'
  | 'GBS_BUILD_FAILED'
  | 'GBS_REQUEST_TOO_LARGE'
  | 'GBS_REQUEST_FAILED'
  | 'GBS_BLOCKED'
  | 'GBS_FINISH_REASON'
  | 'GBS_EMPTY_RESPONSE'
  | 'GBS_OUTPUT_PARSE'
  | 'GBS_OUTPUT_SCHEMA'
  | 'GBS_RESULT_MISSING'
  | 'GBS_JOB_FAILED'
  | 'GBS_JOB_DEADLINE'
  | 'GBS_API_ERROR'
  | 'GBS_UPLOAD_FAILED'
  | 'GBS_DOWNLOAD_FAILED'
  | 'GBS_STATE_MISMATCH'
  | 'GBS_STATE_CORRUPT'
  | 'GBS_STATE_LOCKED'
  | 'GBS_ABORTED'
  | 'GBS_NO_API_KEY';

/** Where an error happened, as far as it is known. */
export interface GbsErrorContext {
  /** 0-based chunk number. */
  chunk?: number;
  /** `batches/...` name of the job concerned. */
  job?: string;
  /** 1-based input line (CSV: the record's first line; NDJSON: the line). */
  line?: number;
  key?: string;
  option?: string;
  /** Whether trying the same operation again may succeed. */
  retryable?: boolean;
}

/**
 * The one error class of the library: a stable `code`, a `cause` when another error led to it,
 * and context fields.
 *
 * @example
 * ```ts
 * import { GbsError } from 'gemini-batch-stream';
 * try {
 *   await run();
 * } catch (err) {
 *   if (err instanceof GbsError && err.code === 'GBS_DUPLICATE_KEY') console.error(err.key, err.line);
 * }
 * ```
 */
export class GbsError extends Error implements GbsErrorContext {
  override name = 'GbsError';
  readonly code: GbsErrorCode;
  readonly chunk?: number;
  readonly job?: string;
  readonly line?: number;
  readonly key?: string;
  readonly option?: string;
  readonly retryable?: boolean;

  constructor(code: GbsErrorCode, message: string, options: GbsErrorContext & { cause?: unknown } = {}) {
    const { cause, ...context } = options;
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    Object.assign(this, context);
  }
}

const CONTEXT_FIELDS = ['chunk', 'job', 'line', 'key', 'option', 'retryable'] as const;

/**
 * `err` with the context fields it lacks filled in from `context`: a GbsError that gains a field is
 * made again (same code, message, cause and stack); anything else is returned as it is.
 */
export function withContext(err: unknown, context: GbsErrorContext): unknown {
  if (!(err instanceof GbsError)) return err;
  const adds = CONTEXT_FIELDS.some((f) => err[f] === undefined && context[f] !== undefined);
  if (!adds) return err;
  const merged: GbsErrorContext & { cause?: unknown } = { cause: err.cause };
  for (const f of CONTEXT_FIELDS) {
    const value = err[f] ?? context[f];
    if (value !== undefined) Object.assign(merged, { [f]: value });
  }
  const copy = new GbsError(err.code, err.message, merged);
  copy.stack = err.stack;
  return copy;
}
