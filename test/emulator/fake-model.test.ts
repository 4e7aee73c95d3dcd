// The fake model: deterministic, derived from the prompt, schema-conforming JSON, and markers for
// the blocked / truncated / failed paths.

import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fakeGenerateContent } from '../../src/emulator/fake-model.js';
import { FAKE_MARKERS, fakeAnswerText } from '../../src/emulator/index.js';
import { emulators } from '../helpers.js';

const start = emulators();
const req = (text: string, generationConfig?: object) => ({
  contents: [{ role: 'user', parts: [{ text }] }],
  ...(generationConfig ? { generationConfig } : {}),
});
const textOf = (outcome: ReturnType<typeof fakeGenerateContent>) =>
  'response' in outcome
    ? ((outcome.response.candidates as Array<{ content?: { parts: Array<{ text: string }> } }>)?.[0]?.content
        ?.parts[0]?.text ?? '')
    : '';

describe('fake model', () => {
  it('answers the same request the same way, and different prompts differently', () => {
    const a1 = fakeGenerateContent('models/m', req('the same prompt'));
    const a2 = fakeGenerateContent('models/m', req('the same prompt'));
    const b = fakeGenerateContent('models/m', req('another prompt'));
    expect(a1).toEqual(a2);
    expect(textOf(a1)).not.toBe(textOf(b));
    expect(textOf(a1)).toBe(fakeAnswerText(req('the same prompt')));
    expect(textOf(a1)).toMatch(/^echo [0-9a-f]{8}: the same prompt$/);
  });

  it('reports plausible usage: about one token per four characters', () => {
    const outcome = fakeGenerateContent('models/m', req('x'.repeat(40)));
    if (!('response' in outcome)) throw new Error('expected a response');
    const usage = outcome.response.usageMetadata as Record<string, number>;
    expect(usage.promptTokenCount).toBe(10);
    expect(usage.candidatesTokenCount).toBe(Math.ceil(textOf(outcome).length / 4));
    expect(usage.totalTokenCount).toBe((usage.promptTokenCount ?? 0) + (usage.candidatesTokenCount ?? 0));
  });

  const schemas = {
    enum: z.object({ sentiment: z.enum(['positive', 'negative', 'neutral']) }),
    'nested objects, arrays, numbers': z.object({
      title: z.string().min(3).max(30),
      score: z.number().min(0).max(1),
      stars: z.int().min(1).max(5),
      tags: z.array(z.string()).min(1).max(3),
      author: z.object({ name: z.string(), verified: z.boolean() }),
    }),
    'optional, nullable and union': z.object({
      note: z.string().optional(),
      rating: z.number().nullable(),
      kind: z.union([z.literal('a'), z.literal('b')]),
    }),
    formats: z.object({ when: z.iso.datetime(), day: z.iso.date(), mail: z.email() }),
  };

  it.each(Object.entries(schemas))('returns JSON that conforms to a zod schema (%s)', (_, schema) => {
    const jsonSchema = z.toJSONSchema(schema);
    for (const prompt of ['first review', 'second review', 'third one here']) {
      const outcome = fakeGenerateContent(
        'models/m',
        req(prompt, { responseMimeType: 'application/json', responseJsonSchema: jsonSchema }),
      );
      const parsed = schema.safeParse(JSON.parse(textOf(outcome)));
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
  });

  it('understands the OpenAPI-style responseSchema (upper-case types)', () => {
    const outcome = fakeGenerateContent(
      'models/m',
      req('x', {
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'OBJECT',
          properties: { n: { type: 'INTEGER' }, s: { type: 'STRING', enum: ['a', 'b'] } },
          required: ['n', 's'],
        },
      }),
    );
    const value = JSON.parse(textOf(outcome));
    expect(Number.isInteger(value.n)).toBe(true);
    expect(['a', 'b']).toContain(value.s);
  });

  it('blocks a prompt carrying the block marker (promptFeedback, no candidates)', () => {
    const outcome = fakeGenerateContent('models/m', req(`hello ${FAKE_MARKERS.blockPrompt}`));
    expect(outcome).toMatchObject({ response: { promptFeedback: { blockReason: 'SAFETY' } } });
    expect('response' in outcome && outcome.response.candidates).toBeUndefined();
  });

  it('stops for safety, truncates at MAX_TOKENS, answers empty, or fails per request on markers', () => {
    expect(fakeGenerateContent('models/m', req(FAKE_MARKERS.safety))).toMatchObject({
      response: { candidates: [{ finishReason: 'SAFETY' }] },
    });
    expect(fakeGenerateContent('models/m', req(`a long prompt ${FAKE_MARKERS.maxTokens}`))).toMatchObject({
      response: { candidates: [{ finishReason: 'MAX_TOKENS' }] },
    });
    expect(fakeGenerateContent('models/m', req(FAKE_MARKERS.empty))).toMatchObject({
      response: { candidates: [] },
    });
    expect(fakeGenerateContent('models/m', req(FAKE_MARKERS.error))).toEqual({
      error: { code: 3, message: 'Request contains an invalid argument.' },
    });
  });

  it('honours maxOutputTokens with finishReason MAX_TOKENS', () => {
    const outcome = fakeGenerateContent('models/m', req('y'.repeat(100), { maxOutputTokens: 5 }));
    expect(outcome).toMatchObject({ response: { candidates: [{ finishReason: 'MAX_TOKENS' }] } });
    expect(textOf(outcome)).toHaveLength(20);
  });

  it('produces invalid or off-schema JSON on request, to test the parse-failure paths', () => {
    const config = { responseMimeType: 'application/json', responseJsonSchema: z.toJSONSchema(schemas.enum) };
    expect(() =>
      JSON.parse(textOf(fakeGenerateContent('models/m', req(FAKE_MARKERS.badJson, config)))),
    ).toThrow();
    const off = JSON.parse(textOf(fakeGenerateContent('models/m', req(FAKE_MARKERS.offSchema, config))));
    expect(schemas.enum.safeParse(off).success).toBe(false);
  });

  it('gives structured output through generateContent and the SDK config', async () => {
    const emu = await start();
    const ai = new GoogleGenAI(emu.clientOptions());
    const res = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Classify: great product',
      config: { responseMimeType: 'application/json', responseJsonSchema: z.toJSONSchema(schemas.enum) },
    });
    expect(schemas.enum.parse(JSON.parse(res.text ?? ''))).toBeDefined();
  });
});
