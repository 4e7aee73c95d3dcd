// One result line (or inline response) → the fields of a BatchResult: text, parsed output,
// usage, or an error record saying why it is not a usable answer. Never an empty "success".

import type { z } from 'zod';
import type { GbsErrorCode } from '../errors.js';
import type { BatchResult, ErrorInfo, Usage } from '../types.js';

type Json = Record<string, unknown>;

/** gRPC codes worth another try when a single request failed inside a job. */
export const RETRYABLE_GRPC_CODES: ReadonlySet<number> = new Set([4, 8, 10, 13, 14]);

const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};

export interface InterpretOptions {
  outputSchema?: z.ZodType | undefined;
  includeResponse: boolean;
}

export type Interpreted = Omit<BatchResult, 'key' | 'row'> & {
  /** A per-request API error that another attempt may fix (429/500/503-like). */
  retryable?: boolean;
};

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
      hasContent = true;
    } else if (part.functionCall || part.inlineData || part.executableCode || part.codeExecutionResult) {
      hasContent = true;
    }
  }
  return { text, hasContent };
}

/** Interprets one `{response}` or `{error}` from a result line or an inline response. */
export function interpret(
  line: { response?: unknown; error?: unknown },
  options: InterpretOptions,
): Interpreted {
  if (line.error && typeof line.error === 'object') {
    const e = line.error as { code?: number; message?: string };
    const name = e.code !== undefined ? (GRPC_NAMES[e.code] ?? String(e.code)) : undefined;
    return {
      ok: false,
      error: errorOf('request', 'GBS_REQUEST_FAILED', e.message ?? 'the request failed', name),
      retryable: e.code !== undefined && RETRYABLE_GRPC_CODES.has(e.code),
    };
  }
  const response = line.response as Json | undefined;
  if (!response || typeof response !== 'object') {
    return {
      ok: false,
      error: errorOf('request', 'GBS_EMPTY_RESPONSE', 'the result has neither a response nor an error'),
    };
  }
  const usage = usageOf(response);
  const base = { response, ...(usage ? { usage } : {}) };
  const feedback = response.promptFeedback as
    | { blockReason?: string; blockReasonMessage?: string }
    | undefined;
  if (feedback?.blockReason) {
    return {
      ok: false,
      ...base,
      error: errorOf(
        'request',
        'GBS_BLOCKED',
        feedback.blockReasonMessage ?? `the prompt was blocked (${feedback.blockReason})`,
        feedback.blockReason,
      ),
    };
  }
  const candidate = (response.candidates as Json[] | undefined)?.[0];
  if (!candidate) {
    return {
      ok: false,
      ...base,
      error: errorOf('request', 'GBS_EMPTY_RESPONSE', 'the response has no candidates'),
    };
  }
  const { text, hasContent } = candidateText(candidate);
  const finishReason = candidate.finishReason as string | undefined;
  if (finishReason && finishReason !== 'STOP') {
    return {
      ok: false,
      ...base,
      ...(hasContent ? { text } : {}),
      error: errorOf(
        'request',
        'GBS_FINISH_REASON',
        `the answer stopped early: finishReason ${finishReason}`,
        finishReason,
      ),
    };
  }
  if (!hasContent) {
    return {
      ok: false,
      ...base,
      error: errorOf('request', 'GBS_EMPTY_RESPONSE', 'the candidate has no content'),
    };
  }
  const result: Interpreted = { ok: true, text, ...(usage ? { usage } : {}) };
  if (options.includeResponse) result.response = response;
  if (options.outputSchema) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return {
        ok: false,
        text,
        ...base,
        error: errorOf(
          'parse',
          'GBS_OUTPUT_PARSE',
          `the structured output is not valid JSON: ${(err as Error).message}`,
        ),
      };
    }
    const parsed = options.outputSchema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length ? i.path.join('.') : '(output)'}: ${i.message}`)
        .join('; ');
      return {
        ok: false,
        text,
        ...base,
        error: errorOf(
          'parse',
          'GBS_OUTPUT_SCHEMA',
          `the structured output does not match outputSchema: ${issues}`,
        ),
      };
    }
    result.output = parsed.data;
  }
  return result;
}
