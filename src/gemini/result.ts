// One result line (or inline response) → the fields of a BatchResult: text, parsed output,
// usage, or an error record saying why it is not a usable answer. Never an empty "success".

import type { z } from 'zod';
import type { GbsErrorCode } from '../errors.js';
import type { BatchResult, ErrorInfo, Usage } from '../types.js';

type Json = Record<string, unknown>;

/** gRPC codes worth another try when a single request failed inside a job. */
export const RETRYABLE_GRPC_CODES: ReadonlySet<number> = new Set([4, 8, 10, 13, 14]);

/** The names of the gRPC status codes (`google.rpc.Code`), as an error's `reason`. */
export const GRPC_NAMES: Readonly<Record<number, string>> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

const GRPC_CODES: ReadonlyMap<string, number> = new Map(
  Object.entries(GRPC_NAMES).map(([code, name]) => [name, Number(code)]),
);

/** The numeric gRPC code of a status name (`RESOURCE_EXHAUSTED` → 8), as an error body's `status` gives it. */
export function grpcCode(name: string | undefined): number | undefined {
  return name === undefined ? undefined : GRPC_CODES.get(name);
}

export interface InterpretOptions {
  outputSchema?: z.ZodType | undefined;
  includeResponse: boolean;
}

export function usageOf(response: Json): Usage | undefined {
  const u = response.usageMetadata as Record<string, number | undefined> | undefined;
  if (!u) return undefined;
  const promptTokens = u.promptTokenCount ?? 0;
  const outputTokens = u.candidatesTokenCount ?? 0;
  const thoughtsTokens = u.thoughtsTokenCount ?? 0;
  return {
    promptTokens,
    outputTokens,
    thoughtsTokens,
    cachedTokens: u.cachedContentTokenCount ?? 0,
    totalTokens: u.totalTokenCount ?? promptTokens + outputTokens + thoughtsTokens,
  };
}

function errorOf(stage: ErrorInfo['stage'], code: GbsErrorCode, message: string, reason?: string): ErrorInfo {
  return { stage, code, message, ...(reason ? { reason } : {}) };
}

function candidateText(candidate: Json): { text: string; hasContent: boolean } {
  const parts = (candidate.content as { parts?: Json[] } | undefined)?.parts ?? [];
  let text = '';
  let hasContent = false;
  for (const part of parts) {
    if (part.thought === true) continue;
    if (typeof part.text === 'string') {
      text += part.text;
      // An empty or blank text is no answer: "never an empty success" (faults #8).
      if (part.text.trim() !== '') hasContent = true;
    } else if (part.functionCall || part.inlineData || part.executableCode || part.codeExecutionResult) {
      hasContent = true;
    }
  }
  return { text, hasContent };
}

/**
 * Interprets one `{response}` or `{error}` (a result line or an inline response) into the
 * BatchResult of `key` and `row`. Properties come in one fixed order (key, row, ok, text, usage,
 * response, output, error) so every result has the same shape.
 */
export function interpret(
  line: { response?: unknown; error?: unknown },
  options: InterpretOptions,
  key: string,
  row: unknown,
): BatchResult {
  const fail = (error: ErrorInfo, response?: Json, usage?: Usage, text?: string): BatchResult => {
    const r: BatchResult = { key, row: row as BatchResult['row'], ok: false };
    if (text !== undefined) r.text = text;
    if (usage) r.usage = usage;
    if (response) r.response = response;
    r.error = error;
    return r;
  };
  if (line.error && typeof line.error === 'object') {
    const e = line.error as { code?: number; message?: string };
    const name = e.code !== undefined ? (GRPC_NAMES[e.code] ?? String(e.code)) : undefined;
    return fail(errorOf('request', 'GBS_REQUEST_FAILED', e.message ?? 'the request failed', name));
  }
  const response = line.response as Json | undefined;
  if (!response || typeof response !== 'object') {
    return fail(errorOf('request', 'GBS_EMPTY_RESPONSE', 'the result has neither a response nor an error'));
  }
  const usage = usageOf(response);
  const feedback = response.promptFeedback as
    | { blockReason?: string; blockReasonMessage?: string }
    | undefined;
  if (feedback?.blockReason) {
    const message = feedback.blockReasonMessage ?? `the prompt was blocked (${feedback.blockReason})`;
    return fail(errorOf('request', 'GBS_BLOCKED', message, feedback.blockReason), response, usage);
  }
  const candidate = (response.candidates as Json[] | undefined)?.[0];
  if (!candidate)
    return fail(errorOf('request', 'GBS_EMPTY_RESPONSE', 'the response has no candidates'), response, usage);
  const { text, hasContent } = candidateText(candidate);
  const finishReason = candidate.finishReason as string | undefined;
  if (finishReason && finishReason !== 'STOP') {
    const error = errorOf(
      'request',
      'GBS_FINISH_REASON',
      `the answer stopped early: finishReason ${finishReason}`,
      finishReason,
    );
    return fail(error, response, usage, hasContent ? text : undefined);
  }
  if (!hasContent)
    return fail(errorOf('request', 'GBS_EMPTY_RESPONSE', 'the candidate has no content'), response, usage);
  const result: BatchResult = { key, row: row as BatchResult['row'], ok: true, text };
  if (usage) result.usage = usage;
  if (options.includeResponse) result.response = response;
  if (options.outputSchema) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const error = errorOf(
        'parse',
        'GBS_OUTPUT_PARSE',
        `the structured output is not valid JSON: ${(err as Error).message}`,
      );
      return fail(error, response, usage, text);
    }
    let parsed: ReturnType<typeof options.outputSchema.safeParse>;
    try {
      parsed = options.outputSchema.safeParse(value);
    } catch (err) {
      // zod does not catch what a transform or refine throws: an error record, not a failed run.
      return fail(
        errorOf('parse', 'GBS_OUTPUT_SCHEMA', `outputSchema threw on this output: ${(err as Error).message}`),
        response,
        usage,
        text,
      );
    }
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length ? i.path.join('.') : '(output)'}: ${i.message}`)
        .join('; ');
      return fail(
        errorOf('parse', 'GBS_OUTPUT_SCHEMA', `the structured output does not match outputSchema: ${issues}`),
        response,
        usage,
        text,
      );
    }
    result.output = parsed.data;
  }
  return result;
}
