// The records that flow between stages: rows → BatchItem → (chunks, jobs) → BatchResult.

import type { GbsErrorCode } from './errors.js';

/** A source row: whatever object the source yields (CSV: column → string). */
export type Row = Record<string, unknown>;

/** A REST `GenerateContentRequest` as one line of a batch input file carries it. */
export type RestRequest = Record<string, unknown>;

/** Where a record failed. */
export type ErrorStage =
  /** The source could not read or parse the row (CSV quote, NDJSON line, encoding). */
  | 'read'
  /** The row failed the `rowSchema`, or its key was empty. */
  | 'validate'
  /** The request builder threw or returned something that is not a request. */
  | 'build'
  /** The request alone exceeds the per-job byte limit. */
  | 'chunk'
  /** The API answered this request with an error, a block, or an unusable candidate. */
  | 'request'
  /** The job ended FAILED / CANCELLED / EXPIRED, or never returned this key. */
  | 'job'
  /** The structured output did not parse or did not match `outputSchema`. */
  | 'parse';

/** Why a row did not succeed. */
export interface ErrorInfo {
  stage: ErrorStage;
  code: GbsErrorCode;
  message: string;
  /** 1-based input line of the row, when the source knows it. */
  line?: number;
  /** The API's status or reason: `RESOURCE_EXHAUSTED`, `SAFETY`, `MAX_TOKENS`, `BATCH_STATE_FAILED`… */
  reason?: string;
}

/** What toRequests produces and geminiBatch consumes: one per input row. */
export interface BatchItem<R = Row> {
  /** Unique, non-empty: joins the answer back to the row. */
  key: string;
  /** The request in REST form; absent when `error` is set. */
  request?: RestRequest;
  row: R;
  /** 1-based input line, when the source knows it. */
  line?: number;
  /** Set when the row failed before any request could be made; it passes through as an error record. */
  error?: ErrorInfo;
}

/** Token counts from `usageMetadata`. */
export interface Usage {
  promptTokens: number;
  /** Candidate (answer) tokens. */
  outputTokens: number;
  /** Thinking tokens, billed as output. */
  thoughtsTokens: number;
  /** Prompt tokens served from a context cache. */
  cachedTokens: number;
  totalTokens: number;
}

/** One result per input row, success or error: `ok` tells which. */
export interface BatchResult<R = Row, O = unknown> {
  key: string;
  row: R;
  ok: boolean;
  /** The first candidate's text (thought parts left out). Also set on MAX_TOKENS errors. */
  text?: string;
  /** The parsed, validated structured output (with `outputSchema`). */
  output?: O;
  /** The raw REST response: on errors when there is one, on successes with `includeResponse`. */
  response?: Record<string, unknown>;
  usage?: Usage;
  error?: ErrorInfo;
}

/** Symbol under which sources attach a row's 1-based input line (not enumerable in JSON). */
export const ROW_LINE: unique symbol = Symbol.for('gemini-batch-stream.line');
/** Symbol under which sources mark a row they could not read. */
export const ROW_ERROR: unique symbol = Symbol.for('gemini-batch-stream.read-error');

/** A row as sources emit it: the record plus, invisibly, its line or read error. */
export type SourceRow<R = Row> = R & { [ROW_LINE]?: number; [ROW_ERROR]?: ErrorInfo };

/** The input line a source attached to a row, if any. */
export function rowLine(row: unknown): number | undefined {
  return typeof row === 'object' && row !== null ? (row as SourceRow)[ROW_LINE] : undefined;
}
