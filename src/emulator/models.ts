// Interactive model routes the library uses beside batches: generateContent (online mode) and
// countTokens (estimates), answered by the same fake model as the batch jobs.

import type { RouteContext } from './context.js';
import { type FakeOutcome, fakeCountTokens, fakeEmbedContent, fakeGenerateContent } from './fake-model.js';
import { json, type Reply, readJson } from './http.js';
import { CANONICAL, RpcError } from './rpc.js';

function statusName(code: number): keyof typeof CANONICAL {
  const found = Object.entries(CANONICAL).find(([, v]) => v.grpc === code);
  return (found?.[0] ?? 'INTERNAL') as keyof typeof CANONICAL;
}

/** The fake model's answer, or its refusal as the HTTP error the real API gives. */
function answer(outcome: FakeOutcome): Reply {
  if ('error' in outcome) throw new RpcError(statusName(outcome.error.code), outcome.error.message);
  return json(outcome.response);
}

/** `POST /{v}/models/{m}:generateContent`. */
export async function generateContent(ctx: RouteContext): Promise<Reply> {
  const body = await readJson(ctx.req);
  return answer(fakeGenerateContent(`${ctx.params[0]}/${ctx.params[1]}`, body));
}

/** `POST /{v}/models/{m}:countTokens`. */
export async function countTokens(ctx: RouteContext): Promise<Reply> {
  return json(fakeCountTokens(await readJson(ctx.req)));
}

/** `POST /{v}/models/{m}:embedContent`. */
export async function embedContent(ctx: RouteContext): Promise<Reply> {
  return answer(fakeEmbedContent(await readJson(ctx.req), ctx.core.options.embeddingDimensions));
}
