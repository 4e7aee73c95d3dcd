// toRestRequest against the real SDK: for every spec, what @google/genai (2.x and 3.x, v1beta and
// v1) puts on the wire for an inline batch request must be exactly what toRestRequest returns.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { type RequestSpec, toContent, toContents, toRestRequest } from '../../src/gemini/request.js';
import { emulators, SDK_VARIANTS, type Sdk } from '../helpers.js';

const start = emulators();

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const weatherParams = {
  type: 'object',
  properties: {
    city: { type: 'string', description: 'City name' },
    unit: { type: ['string', 'null'], enum: ['c', 'f'] },
    days: { type: 'integer', minimum: 1 },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['city'],
};

/** Specs the SDK accepts: each must come out of toRestRequest exactly as the SDK sends it. */
const SPECS: Array<[string, RequestSpec]> = [
  ['a plain string', 'Tell me a joke'],
  ['a string with unicode', 'Résumé in 3 words 🚀'],
  ['contents as a string', { contents: 'Why is the sky blue?' }],
  ['a Content object with role', { contents: { role: 'user', parts: [{ text: 'hello' }] } }],
  ['a Content object without role', { contents: { parts: [{ text: 'hello' }] } }],
  ['a single Part object', { contents: { text: 'just a part' } }],
  ['an array of strings', { contents: ['first', 'second', 'third'] }],
  ['an array of parts and strings', { contents: [{ text: 'a part' }, 'a string'] }],
  [
    'an array of Contents with a model turn',
    {
      contents: [
        { role: 'user', parts: [{ text: 'Hi, I am Ann.' }] },
        { role: 'model', parts: [{ text: 'Hello Ann!' }] },
        { role: 'user', parts: [{ text: 'What is my name?' }] },
      ],
    },
  ],
  [
    'parts with inlineData and fileData',
    {
      contents: [
        { inlineData: { mimeType: 'image/png', data: PNG } },
        { fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/files/doc.pdf' } },
        'Describe both.',
      ],
    },
  ],
  [
    'a function call turn wrapped in Contents',
    {
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'getWeather', args: { city: 'Paris' } } }] },
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'getWeather', response: { tempC: 21 } } }],
        },
      ],
    },
  ],
  [
    'sampling config',
    {
      contents: 'Write a haiku',
      config: {
        temperature: 0.7,
        topP: 0.9,
        topK: 40,
        maxOutputTokens: 256,
        stopSequences: ['\n\n', 'END'],
        seed: 42,
        candidateCount: 2,
      },
    },
  ],
  [
    'penalties, logprobs, modalities and media resolution',
    {
      contents: 'x',
      config: {
        presencePenalty: 0.5,
        frequencyPenalty: -0.25,
        responseLogprobs: true,
        logprobs: 3,
        responseModalities: ['TEXT'],
        mediaResolution: 'MEDIA_RESOLUTION_LOW',
      },
    } as RequestSpec,
  ],
  ['temperature 0 is kept', { contents: 'x', config: { temperature: 0 } }],
  ['an empty config', { contents: 'x', config: {} }],
  [
    'systemInstruction as a string',
    { contents: 'Tell me a joke', config: { systemInstruction: 'You are a cat', temperature: 0.5 } },
  ],
  [
    'systemInstruction as a Content',
    { contents: 'Hi', config: { systemInstruction: { role: 'system', parts: [{ text: 'Be terse.' }] } } },
  ],
  [
    'systemInstruction as a list of strings',
    { contents: 'Hi', config: { systemInstruction: ['Be terse.', 'Answer in French.'] } },
  ],
  [
    'safetySettings',
    {
      contents: 'x',
      config: {
        safetySettings: [
          { category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' },
          { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' },
        ],
      },
    } as RequestSpec,
  ],
  ['tools with googleSearch', { contents: 'News today?', config: { tools: [{ googleSearch: {} }] } }],
  [
    'tools with functionDeclarations, JSON schema parameters without $schema',
    {
      contents: 'Weather in Paris?',
      config: {
        tools: [
          {
            functionDeclarations: [
              { name: 'getWeather', description: 'Current weather', parameters: weatherParams as any },
            ],
          },
        ],
      },
    },
  ],
  [
    'tools with functionDeclarations, JSON schema parameters with $schema',
    {
      contents: 'Weather in Paris?',
      config: {
        tools: [
          {
            functionDeclarations: [
              {
                name: 'getWeather',
                parameters: { $schema: 'http://json-schema.org/draft-07/schema#', ...weatherParams } as any,
              },
            ],
          },
        ],
      },
    },
  ],
  [
    'tools with parametersJsonSchema',
    {
      contents: 'x',
      config: { tools: [{ functionDeclarations: [{ name: 'f', parametersJsonSchema: weatherParams }] }] },
    },
  ],
  [
    'toolConfig',
    {
      contents: 'x',
      config: {
        tools: [{ functionDeclarations: [{ name: 'f', description: 'does f' }] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } },
      },
    } as RequestSpec,
  ],
  [
    'responseMimeType with responseJsonSchema',
    {
      contents: 'List three fruits',
      config: {
        responseMimeType: 'application/json',
        responseJsonSchema: {
          type: 'object',
          properties: { fruits: { type: 'array', items: { type: 'string' } } },
          required: ['fruits'],
          additionalProperties: false,
        },
      },
    },
  ],
  [
    'responseSchema as a JSON Schema with type arrays and anyOf-with-null',
    {
      contents: 'x',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'object',
          properties: {
            name: { type: ['string', 'null'] },
            age: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
            score: { anyOf: [{ type: 'null' }, { type: 'number', minimum: 0 }] },
            id: { type: ['string', 'integer'] },
            tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } },
            either: { anyOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'null' }] },
          },
          required: ['name'],
          propertyOrdering: ['name', 'age'],
        } as any,
      },
    },
  ],
  [
    'responseSchema in the OpenAPI (Type enum) form',
    {
      contents: 'x',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'OBJECT',
          properties: { a: { type: 'STRING', nullable: true }, b: { type: 'NUMBER', format: 'float' } },
        } as any,
      },
    },
  ],
  [
    'thinkingConfig',
    { contents: 'x', config: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } },
  ],
  ['thinkingConfig with budget 0', { contents: 'x', config: { thinkingConfig: { thinkingBudget: 0 } } }],
  ['labels', { contents: 'x', config: { labels: { team: 'data', run: 'nightly' } } }],
  ['cachedContent as a bare id', { contents: 'x', config: { cachedContent: 'abc' } }],
  ['cachedContent as a full name', { contents: 'x', config: { cachedContent: 'cachedContents/xyz' } }],
  ['speechConfig as a string', { contents: 'Say hi', config: { speechConfig: 'Kore' } }],
  [
    'speechConfig as an object',
    {
      contents: 'Say hi',
      config: {
        responseModalities: ['AUDIO'],
        speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Puck' } } },
      },
    } as RequestSpec,
  ],
  [
    'a config holding only lifted fields',
    {
      contents: 'x',
      config: {
        systemInstruction: 'Be brief.',
        safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
        labels: { a: 'b' },
      },
    } as RequestSpec,
  ],
  ['a per-request model', { contents: 'x', model: 'gemini-2.0-flash' }],
  ['a per-request model with prefix', { contents: 'x', model: 'models/gemini-2.0-flash' }],
  [
    'everything at once',
    {
      contents: [
        { role: 'user', parts: [{ text: 'Classify: great product' }] },
        { role: 'model', parts: [{ text: '{"label":"positive"}' }] },
        { role: 'user', parts: [{ text: 'Classify: awful' }] },
      ],
      config: {
        systemInstruction: 'You classify reviews.',
        temperature: 0,
        maxOutputTokens: 64,
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'object',
          properties: { label: { type: 'string', enum: ['positive', 'negative'] } },
          required: ['label'],
        } as any,
        thinkingConfig: { thinkingBudget: 0 },
        tools: [{ googleSearch: {} }],
        labels: { job: 'reviews' },
        cachedContent: 'c1',
      },
    },
  ],
];

/** Specs the SDK refuses: toRestRequest must refuse them too. */
const REFUSED: Array<[string, unknown]> = [
  ['mixing Content and parts', { contents: [{ role: 'user', parts: [{ text: 'a' }] }, 'b'] }],
  ['mixing parts and Content', { contents: ['b', { role: 'user', parts: [{ text: 'a' }] }] }],
  ['a bare functionCall part', { contents: { functionCall: { name: 'f', args: {} } } }],
  ['a functionCall part in a part list', { contents: ['x', { functionCall: { name: 'f', args: {} } }] }],
  ['a bare functionResponse part', { contents: { functionResponse: { name: 'f', response: { ok: true } } } }],
  ['routingConfig', { contents: 'x', config: { routingConfig: { autoMode: {} } } }],
  [
    'modelSelectionConfig',
    { contents: 'x', config: { modelSelectionConfig: { featureSelectionPreference: 'BALANCED' } } },
  ],
  ['audioTimestamp', { contents: 'x', config: { audioTimestamp: true } }],
  [
    'a safety setting with method',
    {
      contents: 'x',
      config: {
        safetySettings: [
          { category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE', method: 'SEVERITY' },
        ],
      },
    },
  ],
  ['empty contents', { contents: [] }],
  ['a model with ..', { contents: 'x', model: '../files/x' }],
  ['responseSchema with type null only', { contents: 'x', config: { responseSchema: { type: 'null' } } }],
  [
    'responseSchema with both type and anyOf',
    { contents: 'x', config: { responseSchema: { type: 'string', anyOf: [{ type: 'string' }] } } },
  ],
];

/** What the SDK sends for `spec` as one inline batch request, read back from the emulator's record. */
async function sentBySdk(emu: Emulator, ai: Sdk, spec: RequestSpec): Promise<Record<string, unknown>> {
  const { contents, config, model } = typeof spec === 'string' ? { contents: spec } : (spec as any);
  const job = await ai.batches.create({
    model: 'gemini-2.5-flash',
    src: [
      {
        contents,
        ...(config !== undefined ? { config } : {}),
        ...(model !== undefined ? { model } : {}),
        metadata: { key: 'k' },
      },
    ],
  });
  const id = (job.name ?? '').replace(/^batches\//, '');
  const record = JSON.parse(readFileSync(join(emu.dir, 'meta/batches', `${id}.json`), 'utf8'));
  expect(record.inlineRequests).toHaveLength(1);
  expect(record.inlineRequests[0].metadata).toEqual({ key: 'k' });
  return record.inlineRequests[0].request;
}

describe.each(SDK_VARIANTS)('toRestRequest matches $label', ({ make, apiVersion }) => {
  let emu: Emulator;
  let ai: Sdk;
  beforeAll(async () => {
    emu = await start({ maxActiveBatches: 10_000 });
    ai = make(emu.clientOptions(apiVersion));
  });

  it.each(SPECS)('%s', async (_name, spec) => {
    const wire = await sentBySdk(emu, ai, structuredClone(spec));
    expect(toRestRequest(structuredClone(spec))).toEqual(wire);
  });

  it.each(REFUSED)('refuses %s like the SDK, with its message', async (_name, spec) => {
    const sdkError = await sentBySdk(emu, ai, structuredClone(spec) as RequestSpec).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(sdkError).toBeInstanceOf(Error);
    // A refusal by the SDK itself, before any HTTP call (an API error would carry a status).
    expect((sdkError as { status?: number }).status).toBeUndefined();
    expect(() => toRestRequest(structuredClone(spec) as RequestSpec)).toThrow(sdkError?.message);
  });
});

describe('toRestRequest', () => {
  it.each<[string, RequestSpec, Record<string, unknown>]>([
    ['a prompt', 'hi', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }],
    [
      'lifted and nested fields',
      { contents: 'hi', config: { systemInstruction: 'S', temperature: 0.1, cachedContent: 'abc' } },
      {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        systemInstruction: { role: 'user', parts: [{ text: 'S' }] },
        cachedContent: 'cachedContents/abc',
        generationConfig: { temperature: 0.1 },
      },
    ],
    [
      'a config with only lifted fields',
      { contents: 'hi', config: { labels: { a: 'b' } } },
      {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        labels: { a: 'b' },
        generationConfig: {},
      },
    ],
    [
      'speechConfig as a string',
      { contents: 'hi', config: { speechConfig: 'Kore' } },
      {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        generationConfig: { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } },
      },
    ],
    [
      'a nullable type array',
      { contents: 'hi', config: { responseSchema: { type: ['string', 'null'] } as any } },
      {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        generationConfig: { responseSchema: { type: 'STRING', nullable: true } },
      },
    ],
    [
      'anyOf with null',
      {
        contents: 'hi',
        config: { responseSchema: { anyOf: [{ type: 'integer' }, { type: 'null' }] } as any },
      },
      {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        generationConfig: { responseSchema: { type: 'INTEGER', nullable: true } },
      },
    ],
    [
      'a per-request model',
      { contents: 'hi', model: 'gemini-2.0-flash' },
      { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], model: 'models/gemini-2.0-flash' },
    ],
  ])('converts %s', (_name, spec, expected) => {
    expect(toRestRequest(spec)).toEqual(expected);
  });

  it.each<[string, unknown, RegExp]>([
    ['an empty prompt', '', /empty/],
    ['null', null, /got null/],
    ['a number', 42, /got number/],
    ['an object without contents', {}, /contents/],
    ['a typo in config', { contents: 'x', config: { temprature: 0.2 } }, /temprature/],
    ['routingConfig', { contents: 'x', config: { routingConfig: {} } }, /routingConfig/],
    ['tools that are not an array', { contents: 'x', config: { tools: { googleSearch: {} } } }, /tools/],
  ])('throws on %s', (_name, spec, message) => {
    expect(() => toRestRequest(spec as RequestSpec)).toThrow(message);
  });

  it('does not modify the spec it is given', () => {
    const spec: RequestSpec = {
      contents: 'x',
      config: {
        responseSchema: { type: ['string', 'null'] } as any,
        tools: [
          { functionDeclarations: [{ name: 'f', parameters: { $schema: 'x', type: 'object' } as any }] },
        ],
      },
    };
    const before = structuredClone(spec);
    toRestRequest(spec);
    expect(spec).toEqual(before);
  });

  it('toContent and toContents follow the SDK grouping', () => {
    expect(toContent('a')).toEqual({ role: 'user', parts: [{ text: 'a' }] });
    expect(toContent(['a', { text: 'b' }])).toEqual({ role: 'user', parts: [{ text: 'a' }, { text: 'b' }] });
    expect(toContents(['a', 'b'])).toEqual([{ role: 'user', parts: [{ text: 'a' }, { text: 'b' }] }]);
    expect(() => toContent([])).toThrow();
    expect(() => toContents([])).toThrow();
  });
});
