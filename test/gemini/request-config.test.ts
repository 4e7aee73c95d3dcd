// toRestRequest against the real SDK (2.x and 3.x, v1beta and v1), config: generation settings, the
// fields lifted out of config, and per-request models as the SDK sends them; Vertex-only ones refused.

import { describe, it } from 'vitest';
import type { RequestSpec } from '../../src/gemini/request.js';
import { emulators, SDK_VARIANTS } from '../helpers.js';
import { matchesSdk, refusedLikeSdk, sdkOnEmulator } from './sdk-parity.js';

const start = emulators();

/** Specs the SDK accepts: each must come out of toRestRequest exactly as the SDK sends it. */
const SPECS: Array<[string, RequestSpec]> = [
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
  ['a model with ..', { contents: 'x', model: '../files/x' }],
];

describe.each(SDK_VARIANTS)('toRestRequest matches $label', (variant) => {
  const sdk = sdkOnEmulator(start, variant);

  it.each(SPECS)('%s', (_name, spec) => matchesSdk(sdk(), spec));

  it.each(REFUSED)('refuses %s like the SDK, with its message', (_name, spec) => refusedLikeSdk(sdk(), spec));
});
