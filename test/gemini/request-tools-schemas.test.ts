// toRestRequest against the real SDK (2.x and 3.x, v1beta and v1), tools and schemas: function
// declarations, toolConfig, response schemas in JSON Schema and OpenAPI form, as the SDK sends them.

import { describe, it } from 'vitest';
import type { RequestSpec } from '../../src/gemini/request.js';
import { emulators, SDK_VARIANTS } from '../helpers.js';
import { matchesSdk, refusedLikeSdk, sdkOnEmulator } from './sdk-parity.js';

const start = emulators();

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
];

/** Specs the SDK refuses: toRestRequest must refuse them too. */
const REFUSED: Array<[string, unknown]> = [
  ['responseSchema with type null only', { contents: 'x', config: { responseSchema: { type: 'null' } } }],
  [
    'responseSchema with both type and anyOf',
    { contents: 'x', config: { responseSchema: { type: 'string', anyOf: [{ type: 'string' }] } } },
  ],
];

describe.each(SDK_VARIANTS)('toRestRequest matches $label', (variant) => {
  const sdk = sdkOnEmulator(start, variant);

  it.each(SPECS)('%s', (_name, spec) => matchesSdk(sdk(), spec));

  it.each(REFUSED)('refuses %s like the SDK, with its message', (_name, spec) => refusedLikeSdk(sdk(), spec));
});
