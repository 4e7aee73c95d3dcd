// toRestRequest against the real SDK (2.x and 3.x, v1beta and v1), contents: every form a prompt may
// take goes on the wire as the SDK sends it, and the forms the SDK refuses are refused alike.

import { describe, it } from 'vitest';
import type { RequestSpec } from '../../src/gemini/request.js';
import { emulators, SDK_VARIANTS } from '../helpers.js';
import { matchesSdk, refusedLikeSdk, sdkOnEmulator } from './sdk-parity.js';

const start = emulators();

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

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
];

/** Specs the SDK refuses: toRestRequest must refuse them too. */
const REFUSED: Array<[string, unknown]> = [
  ['mixing Content and parts', { contents: [{ role: 'user', parts: [{ text: 'a' }] }, 'b'] }],
  ['mixing parts and Content', { contents: ['b', { role: 'user', parts: [{ text: 'a' }] }] }],
  ['a bare functionCall part', { contents: { functionCall: { name: 'f', args: {} } } }],
  ['a functionCall part in a part list', { contents: ['x', { functionCall: { name: 'f', args: {} } }] }],
  ['a bare functionResponse part', { contents: { functionResponse: { name: 'f', response: { ok: true } } } }],
  ['empty contents', { contents: [] }],
];

describe.each(SDK_VARIANTS)('toRestRequest matches $label', (variant) => {
  const sdk = sdkOnEmulator(start, variant);

  it.each(SPECS)('%s', (_name, spec) => matchesSdk(sdk(), spec));

  it.each(REFUSED)('refuses %s like the SDK, with its message', (_name, spec) => refusedLikeSdk(sdk(), spec));
});
