// What a request builder returns (a prompt, or the SDK's own `{ contents, config }` shape) → the
// REST GenerateContentRequest a batch input line carries, converted as the SDK converts inline
// batch requests: some config fields are lifted to the request, the rest go in generationConfig.

import type { ContentListUnion, ContentUnion, GenerateContentConfig } from '@google/genai';
import type { RestRequest } from '../types.js';
import { processJsonSchema } from './json-schema.js';

/** What `toRequests`' builder may return: a prompt string, or contents with an optional config. */
export type RequestSpec =
  | string
  | {
      contents: ContentListUnion;
      config?: GenerateContentConfig;
      /** Per-request model override (rare: a batch job has one model). */
      model?: string;
    };

type Json = Record<string, unknown>;

/** Config fields the SDK puts in `generationConfig` (copied as they are unless noted). */
const GENERATION_FIELDS = [
  'temperature',
  'topP',
  'topK',
  'candidateCount',
  'maxOutputTokens',
  'stopSequences',
  'responseLogprobs',
  'logprobs',
  'presencePenalty',
  'frequencyPenalty',
  'seed',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseModalities',
  'mediaResolution',
  'speechConfig',
  'thinkingConfig',
  'audioTranscriptionConfig',
  'imageConfig',
  'enableEnhancedCivicAnswers',
] as const;

/** Config fields the SDK lifts to the top of the request. */
const LIFTED_FIELDS = [
  'systemInstruction',
  'safetySettings',
  'tools',
  'toolConfig',
  'labels',
  'cachedContent',
  'serviceTier',
  'continuationToken',
  'store',
] as const;

/** Vertex-only fields: the SDK refuses them in Gemini API mode, and so do we. */
const VERTEX_ONLY = [
  'routingConfig',
  'modelSelectionConfig',
  'audioTimestamp',
  'modelArmorConfig',
  'generationOutputConfig',
];

/** Client-side options of generateContent that have no place in a batch request. */
const CLIENT_ONLY = new Set([
  'httpOptions',
  'abortSignal',
  'automaticFunctionCalling',
  'shouldReturnHttpResponse',
]);

const KNOWN = new Set<string>([...GENERATION_FIELDS, ...LIFTED_FIELDS, ...VERTEX_ONLY, ...CLIENT_ONLY]);

function isContent(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && Array.isArray((x as Json).parts);
}

function isFunctionPart(x: unknown): boolean {
  return typeof x === 'object' && x !== null && ('functionCall' in x || 'functionResponse' in x);
}

function toPart(x: unknown): unknown {
  if (typeof x === 'string') return { text: x };
  if (typeof x === 'object' && x !== null) return x;
  throw new Error(`Unsupported part type: ${typeof x}`);
}

/** The SDK's tContent: a Content stays; a string or part(s) becomes one user Content. */
export function toContent(x: ContentUnion | unknown): Json {
  if (x === null || x === undefined) throw new Error('ContentUnion is required');
  if (isContent(x)) return x;
  const parts = Array.isArray(x) ? x : [x];
  if (parts.length === 0) throw new Error('PartListUnion is required');
  return { role: 'user', parts: parts.map(toPart) };
}

/** The SDK's tContents: strings and parts group into one user Content; Contents pass through. */
export function toContents(x: ContentListUnion | unknown): Json[] {
  if (x === null || x === undefined || (Array.isArray(x) && x.length === 0))
    throw new Error('contents are required');
  if (!Array.isArray(x)) {
    if (isFunctionPart(x)) {
      throw new Error(
        'To specify functionCall or functionResponse parts, please wrap them in a Content object, specifying the role for them',
      );
    }
    return [toContent(x)];
  }
  const contentArray = isContent(x[0]);
  const result: Json[] = [];
  const parts: unknown[] = [];
  for (const item of x) {
    if (isContent(item) !== contentArray) {
      throw new Error(
        'Mixing Content and Parts is not supported, please group the parts into a the appropriate Content objects and specify the roles for them',
      );
    }
    if (contentArray) result.push(item as Json);
    else if (isFunctionPart(item)) {
      throw new Error(
        'To specify functionCall or functionResponse parts, please wrap them, and any other parts, in Content objects as appropriate, specifying the role for them',
      );
    } else parts.push(item);
  }
  if (!contentArray) result.push({ role: 'user', parts: parts.map(toPart) });
  return result;
}

function convertTool(tool: Json): Json {
  const decls = tool.functionDeclarations as Json[] | undefined;
  if (!Array.isArray(decls)) return tool;
  return {
    ...tool,
    functionDeclarations: decls.map((d) => {
      const out: Json = { ...d };
      for (const [field, jsonField] of [
        ['parameters', 'parametersJsonSchema'],
        ['response', 'responseJsonSchema'],
      ] as const) {
        const schema = out[field] as Json | undefined;
        if (!schema) continue;
        if (!('$schema' in schema)) out[field] = processJsonSchema(schema);
        else if (!out[jsonField]) {
          out[jsonField] = schema;
          delete out[field];
        }
      }
      return out;
    }),
  };
}

function modelName(model: string): string {
  if (model.includes('..') || model.includes('?') || model.includes('&'))
    throw new Error(`invalid model parameter: ${model}`);
  return model.startsWith('models/') || model.startsWith('tunedModels/') ? model : `models/${model}`;
}

/**
 * Converts a builder's result into the REST request of one batch input line.
 * Throws (with the SDK's own messages) on what the SDK would refuse, and on unknown config keys.
 */
export function toRestRequest(spec: RequestSpec): RestRequest {
  if (typeof spec === 'string') {
    if (spec.length === 0) throw new Error('the prompt is an empty string');
    return { contents: [{ role: 'user', parts: [{ text: spec }] }] };
  }
  if (typeof spec !== 'object' || spec === null || !('contents' in spec)) {
    throw new Error(
      `expected a prompt string or { contents, config? }, got ${spec === null ? 'null' : typeof spec}`,
    );
  }
  const request: Json = { contents: toContents(spec.contents) };
  if (spec.model !== undefined) request.model = modelName(spec.model);
  const config = spec.config as Json | undefined;
  if (config === undefined || config === null) return request;
  for (const key of Object.keys(config)) {
    if (!KNOWN.has(key))
      throw new Error(`unknown config field \`${key}\` (a typo? it is not a GenerateContentConfig field)`);
  }
  for (const key of VERTEX_ONLY) {
    if (config[key] !== undefined) {
      throw new Error(
        `${key} parameter is only supported in Gemini Enterprise Agent Platform mode, not in Gemini Developer API mode.`,
      );
    }
  }
  const generationConfig: Json = {};
  for (const key of GENERATION_FIELDS) {
    const value = config[key];
    if (value == null) continue;
    if (key === 'responseSchema') generationConfig[key] = processJsonSchema(value as Json);
    else if (key === 'speechConfig' && typeof value === 'string') {
      generationConfig[key] = { voiceConfig: { prebuiltVoiceConfig: { voiceName: value } } };
    } else generationConfig[key] = value;
  }
  for (const key of LIFTED_FIELDS) {
    const value = config[key];
    if (value == null) continue;
    if (key === 'systemInstruction') request[key] = toContent(value);
    else if (key === 'tools') {
      if (!Array.isArray(value)) throw new Error('tools is required and must be an array of Tools');
      request[key] = value.map((t) => convertTool(t as Json));
    } else if (key === 'safetySettings' && Array.isArray(value)) {
      for (const s of value as Json[]) {
        if (s.method !== undefined) {
          throw new Error(
            'method parameter is only supported in Gemini Enterprise Agent Platform mode, not in Gemini Developer API mode.',
          );
        }
      }
      request[key] = value;
    } else if (key === 'cachedContent') {
      const name = String(value);
      request[key] = name.startsWith('cachedContents/') ? name : `cachedContents/${name}`;
    } else request[key] = value;
  }
  // The SDK always sends generationConfig when a config is given, even if empty.
  request.generationConfig = generationConfig;
  return request;
}
