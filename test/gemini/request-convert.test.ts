// toRestRequest on its own: what it makes of prompts, lifted fields and nullable schemas, the errors
// for what is not a request, a spec left untouched, and toContent/toContents grouping like the SDK.

import { describe, expect, it } from 'vitest';
import { type RequestSpec, toContent, toContents, toRestRequest } from '../../src/gemini/request.js';

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
