// The emulator's deterministic fake model: the same request always gets the same answer, the answer
// is derived from the prompt (so a join mistake shows), and markers in the prompt trigger the
// blocked / truncated / failed paths that real models produce.

import { createHash } from 'node:crypto';
import { fakeFromSchema } from './fake-schema.js';
import { type RpcStatus, rpcStatus } from './rpc.js';

/** Markers a prompt can carry to make the fake model take a specific path. */
export const FAKE_MARKERS = {
  /** `promptFeedback.blockReason: SAFETY`, no candidates. */
  blockPrompt: '[[fake:block]]',
  /** One candidate with `finishReason: SAFETY` and no content. */
  safety: '[[fake:safety]]',
  /** The answer is cut short with `finishReason: MAX_TOKENS`. */
  maxTokens: '[[fake:max-tokens]]',
  /** An empty `candidates` array. */
  empty: '[[fake:empty]]',
  /** One candidate, `finishReason: STOP`, whose only part is an empty text. */
  emptyText: '[[fake:empty-text]]',
  /** A per-request error (`INVALID_ARGUMENT`) instead of a response. */
  error: '[[fake:error]]',
  /** In JSON mode: text that is not valid JSON. */
  badJson: '[[fake:bad-json]]',
  /** In JSON mode: valid JSON that ignores the schema. */
  offSchema: '[[fake:off-schema]]',
} as const;

/** How many characters of the prompt the plain-text answer echoes. */
export const ECHO_CHARS = 200;

export type FakeOutcome = { response: Record<string, unknown> } | { error: RpcStatus };

type Json = Record<string, unknown>;

const REQUEST_FIELDS = new Set([
  'contents',
  'model',
  'systemInstruction',
  'tools',
  'toolConfig',
  'safetySettings',
  'generationConfig',
  'cachedContent',
  'labels',
  'serviceTier',
  'store',
  'continuationToken',
]);

const GENERATION_CONFIG_FIELDS = new Set([
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseModalities',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'enableEnhancedCivicAnswers',
  'speechConfig',
  'thinkingConfig',
  'imageConfig',
  'mediaResolution',
  'audioTranscriptionConfig',
]);

const EMBED_FIELDS = new Set(['content', 'model', 'taskType', 'title', 'outputDimensionality']);

/** proto JSON accepts both spellings: `generation_config` and `generationConfig`. */
export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function field(obj: Json | undefined, name: string): unknown {
  if (!obj) return undefined;
  if (name in obj) return obj[name];
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return obj[snake];
}

function unknownField(obj: Json, allowed: Set<string>, where: string): string | undefined {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(camel(key))) {
      return `Invalid JSON payload received. Unknown name "${key}" at '${where}': Cannot find field.`;
    }
  }
  return undefined;
}

/** A JSON object (not null, not an array). */
export function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Why a GenerateContentRequest (REST JSON) would be refused, or undefined if it is acceptable. */
export function validateGenerateRequest(request: unknown): string | undefined {
  if (!isObject(request)) return 'Invalid JSON payload received. Expected an object for "request".';
  const unknown = unknownField(request, REQUEST_FIELDS, 'request');
  if (unknown) return unknown;
  const contents = field(request, 'contents');
  if (!Array.isArray(contents) || contents.length === 0) {
    return '* GenerateContentRequest.contents: contents is not specified\n';
  }
  for (const [i, content] of contents.entries()) {
    if (!isObject(content) || !Array.isArray(content.parts) || content.parts.length === 0) {
      return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
    }
  }
  const system = field(request, 'systemInstruction');
  if (system !== undefined && (!isObject(system) || !Array.isArray(system.parts))) {
    return `Invalid value at 'request.system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), ${JSON.stringify(system)}`;
  }
  const config = field(request, 'generationConfig');
  if (config !== undefined) {
    if (!isObject(config)) return "Invalid value at 'request.generation_config': expected an object.";
    const bad = unknownField(config, GENERATION_CONFIG_FIELDS, 'request.generation_config');
    if (bad) return bad;
  }
  return undefined;
}

/** Why an EmbedContentRequest would be refused, or undefined. */
export function validateEmbedRequest(request: unknown): string | undefined {
  if (!isObject(request)) return 'Invalid JSON payload received. Expected an object for "request".';
  const unknown = unknownField(request, EMBED_FIELDS, 'request');
  if (unknown) return unknown;
  const content = field(request, 'content');
  if (!isObject(content) || !Array.isArray(content.parts) || content.parts.length === 0) {
    return '* EmbedContentRequest.content: content is not specified\n';
  }
  return undefined;
}

function partsText(content: unknown): string {
  if (!isObject(content) || !Array.isArray(content.parts)) return '';
  return content.parts
    .map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : ''))
    .filter(Boolean)
    .join('\n');
}

/** The prompt text of a request: every text part of every content, joined by newlines. */
export function promptText(request: Json): string {
  const contents = field(request, 'contents');
  return Array.isArray(contents) ? contents.map(partsText).filter(Boolean).join('\n') : '';
}

/** The fake tokenizer: one token per four characters, at least one. */
export function fakeTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function digest(request: unknown): Buffer {
  return createHash('sha1').update(JSON.stringify(request)).digest();
}

function generationConfigOf(request: Json): Json {
  const raw = field(request, 'generationConfig');
  if (!isObject(raw)) return {};
  const out: Json = {};
  for (const [k, v] of Object.entries(raw)) out[camel(k)] = v;
  return out;
}

/**
 * The text the fake model answers for a request in plain-text mode (no markers):
 * `echo <8 hex of sha1(request)>: <first 200 characters of the prompt>`.
 */
export function fakeAnswerText(request: Json): string {
  return `echo ${digest(request).toString('hex').slice(0, 8)}: ${promptText(request).slice(0, ECHO_CHARS)}`;
}

/** The fake model's answer to one GenerateContentRequest (REST JSON), as the API would send it. */
export function fakeGenerateContent(model: string, request: Json): FakeOutcome {
  const invalid = validateGenerateRequest(request);
  if (invalid) return { error: rpcStatus('INVALID_ARGUMENT', invalid) };
  const prompt = promptText(request);
  if (prompt.includes(FAKE_MARKERS.error)) {
    return { error: rpcStatus('INVALID_ARGUMENT', 'Request contains an invalid argument.') };
  }
  const hash = digest(request);
  const promptTokenCount = fakeTokens(prompt + partsText(field(request, 'systemInstruction')));
  const base = {
    modelVersion: model.replace(/^models\//, ''),
    responseId: hash.toString('base64url').slice(0, 23),
  };
  const usage = (candidates: number): Json => ({
    promptTokenCount,
    ...(candidates > 0 ? { candidatesTokenCount: candidates } : {}),
    totalTokenCount: promptTokenCount + candidates,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
  });

  if (prompt.includes(FAKE_MARKERS.blockPrompt)) {
    return {
      response: {
        promptFeedback: {
          blockReason: 'SAFETY',
          safetyRatings: [
            { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
          ],
        },
        usageMetadata: usage(0),
        ...base,
      },
    };
  }
  if (prompt.includes(FAKE_MARKERS.safety)) {
    return {
      response: {
        candidates: [
          {
            finishReason: 'SAFETY',
            index: 0,
            safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true }],
          },
        ],
        usageMetadata: usage(0),
        ...base,
      },
    };
  }
  if (prompt.includes(FAKE_MARKERS.emptyText)) {
    const candidate = { content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP', index: 0 };
    return { response: { candidates: [candidate], usageMetadata: usage(0), ...base } };
  }
  if (prompt.includes(FAKE_MARKERS.empty)) {
    return { response: { candidates: [], usageMetadata: usage(0), ...base } };
  }

  const config = generationConfigOf(request);
  let text: string;
  if (config.responseMimeType === 'application/json') {
    const schema = config.responseJsonSchema ?? config.responseSchema;
    const words = prompt.split(/\W+/).filter((w) => w.length > 2);
    if (prompt.includes(FAKE_MARKERS.badJson)) text = '{"answer": "unterminated';
    else if (prompt.includes(FAKE_MARKERS.offSchema)) text = JSON.stringify({ unexpected: true });
    else if (schema !== undefined) text = JSON.stringify(fakeFromSchema(schema, hash.readUInt32BE(0), words));
    else text = JSON.stringify({ answer: fakeAnswerText(request) });
  } else {
    text = fakeAnswerText(request);
  }

  let finishReason = 'STOP';
  const maxTokens = typeof config.maxOutputTokens === 'number' ? config.maxOutputTokens : undefined;
  if (prompt.includes(FAKE_MARKERS.maxTokens)) {
    text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    finishReason = 'MAX_TOKENS';
  } else if (maxTokens !== undefined && fakeTokens(text) > maxTokens) {
    text = text.slice(0, maxTokens * 4);
    finishReason = 'MAX_TOKENS';
  }
  return {
    response: {
      candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason, index: 0 }],
      usageMetadata: usage(fakeTokens(text)),
      ...base,
    },
  };
}

/** The fake embedding of one EmbedContentRequest: `dimensions` deterministic values in [-1, 1]. */
export function fakeEmbedContent(request: Json, dimensions: number): FakeOutcome {
  const invalid = validateEmbedRequest(request);
  if (invalid) return { error: rpcStatus('INVALID_ARGUMENT', invalid) };
  const wanted = field(request, 'outputDimensionality');
  const size = typeof wanted === 'number' && wanted > 0 ? Math.min(wanted, 3072) : dimensions;
  let state = digest(request).readUInt32BE(0);
  const values = Array.from({ length: size }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.round((state / 2147483648 - 1) * 1e6) / 1e6;
  });
  return { response: { embedding: { values } } };
}

/** What `models/{m}:countTokens` answers for a `{contents}` or `{generateContentRequest}` body. */
export function fakeCountTokens(body: Json): Json {
  const inner = field(body, 'generateContentRequest');
  const request = isObject(inner) ? inner : body;
  const total = fakeTokens(promptText(request) + partsText(field(request, 'systemInstruction')));
  return { totalTokens: total, promptTokensDetails: [{ modality: 'TEXT', tokenCount: total }] };
}
