// One row of geminiOnline: its request sent with `models.generateContent` (retried), the raw REST
// answer interpreted as a batch result line is, and what of it to keep for a rerun.

import type { GoogleGenAI } from '@google/genai';
import type pLimit from 'p-limit';
import type { z } from 'zod';
import { observingFetch } from '../gemini/fetch.js';
import { grpcCode, interpret } from '../gemini/result.js';
import { apiErrorBody, describe, httpStatusOf, isTransient, withRetry } from '../gemini/retry.js';
import type { ProgressEvent, RunSummary } from '../progress.js';
import type { AnswerStore, StoredAnswer } from '../state/online-answers.js';
import type { BatchItem, BatchResult, RestRequest } from '../types.js';

type Json = Record<string, unknown>;

export interface Context {
  client: GoogleGenAI;
  model: string;
  jsonSchema: Record<string, unknown> | undefined;
  interpretOptions: { outputSchema?: z.ZodType | undefined; includeResponse: boolean };
  retry: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  signal: AbortSignal;
  /** Stops every request in flight and every row not started; they fail with `reason`. */
  stop: (reason?: unknown) => void;
  limit: ReturnType<typeof pLimit>;
  window: number;
  store: AnswerStore | undefined;
  summary: RunSummary;
  emit: (event: ProgressEvent) => void;
}

/** What became of one row: its result, and the answer to keep (absent: not kept, a rerun sends it again). */
export interface Outcome {
  result: BatchResult;
  answer?: StoredAnswer;
}

/** Failures that concern every row (a bad key, an unknown model): the run stops instead. */
function stopsTheRun(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status === 401 || status === 403 || status === 404) return true;
  const details = apiErrorBody(err)?.details ?? [];
  return details.some((d) => (d as { reason?: string }).reason === 'API_KEY_INVALID');
}

export async function ask(
  item: BatchItem,
  request: RestRequest,
  hash: string,
  ctx: Context,
): Promise<Outcome> {
  ctx.signal.throwIfAborted();
  const { contents, model, ...rest } = request;
  const seen: { body?: Json } = {};
  let line: StoredAnswer;
  try {
    await withRetry(
      'models.generateContent',
      async (info) => {
        seen.body = undefined;
        const response = await ctx.client.models.generateContent({
          model: typeof model === 'string' ? model : ctx.model,
          contents: contents as never,
          // The request is already in REST form: what toRequests made is sent as it is.
          config: {
            httpOptions: {
              fetch: observingFetch(info, (body) => {
                seen.body = body as Json;
              }),
              extraBody: rest,
            },
            abortSignal: info.signal,
          },
        });
        if (!seen.body) {
          const { sdkHttpResponse: _drop, ...plain } = JSON.parse(JSON.stringify(response)) as Json;
          seen.body = plain;
        }
      },
      {
        signal: ctx.signal,
        policy: ctx.retry,
        onRetry: ({ operation, attempt, delayMs, error }) =>
          ctx.emit({ type: 'retry', operation, attempt, delayMs, error: describe(error) }),
      },
    );
    line = { k: item.key, h: hash, response: seen.body as Json };
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (stopsTheRun(cause)) {
      // At once, for every row: the others in flight or waiting fail with this same error.
      ctx.stop(err);
      throw err;
    }
    const body = apiErrorBody(cause);
    const error = { code: grpcCode(body?.status), message: body?.message ?? describe(cause) };
    if (isTransient(cause)) {
      // Not kept: a rerun sends this row again.
      const message = `${error.message} (still failing after ${ctx.retry.retries + 1} tries)`;
      return {
        result: finish(
          interpret({ error: { ...error, message } }, ctx.interpretOptions, item.key, item.row),
          item,
        ),
      };
    }
    line = { k: item.key, h: hash, error };
  }
  return { result: replay(line, item, ctx), answer: line };
}

function finish(result: BatchResult, item: BatchItem): BatchResult {
  if (result.error && item.line !== undefined) result.error.line = item.line;
  return result;
}

export function replay(line: StoredAnswer, item: BatchItem, ctx: Context): BatchResult {
  const answer = line.error ? { error: line.error } : { response: line.response };
  return finish(interpret(answer, ctx.interpretOptions, item.key, item.row), item);
}
