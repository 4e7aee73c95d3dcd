// Options are validated up front: a bad option fails fast with GBS_INVALID_OPTION naming the option
// and the bad value, before anything is read or sent.

import { GoogleGenAI } from '@google/genai';
import { afterEach, describe, expect, it } from 'vitest';
import { GbsError, geminiBatch } from '../src/index.js';

const client = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: 'http://127.0.0.1:9' } });
const base = { client, model: 'gemini-2.5-flash', stateDir: '/tmp/never-used' };

function errorOf(fn: () => unknown): GbsError {
  try {
    fn();
  } catch (err) {
    return err as GbsError;
  }
  throw new Error('expected a throw');
}

describe('geminiBatch options', () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['no model', { model: undefined }, 'model', /`model`.*expected string.*\(got undefined\)/],
    ['an empty model', { model: '' }, 'model', /`model`.*\(got ""\)/],
    ['no stateDir', { stateDir: undefined }, 'stateDir', /`stateDir`/],
    [
      'maxConcurrentJobs 0',
      { maxConcurrentJobs: 0 },
      'maxConcurrentJobs',
      /`maxConcurrentJobs`.*>=1.*\(got 0\)/,
    ],
    ['maxConcurrentJobs 2.5', { maxConcurrentJobs: 2.5 }, 'maxConcurrentJobs', /\(got 2\.5\)/],
    ['maxConcurrentJobs over the API cap', { maxConcurrentJobs: 101 }, 'maxConcurrentJobs', /<=100/],
    [
      'maxRequestsPerJob "many"',
      { maxRequestsPerJob: 'many' },
      'maxRequestsPerJob',
      /expected number.*\(got "many"\)/,
    ],
    ['maxBytesPerJob over 2 GB', { maxBytesPerJob: 3e9 }, 'maxBytesPerJob', /\(got 3000000000\)/],
    ['pollIntervalMs negative', { pollIntervalMs: -1 }, 'pollIntervalMs', /`pollIntervalMs`/],
    [
      'pollIntervalMs max < initial',
      { pollIntervalMs: { initial: 10, max: 5 } },
      'pollIntervalMs',
      /max must be at least initial/,
    ],
    ['ordered "yes"', { ordered: 'yes' }, 'ordered', /expected boolean/],
    ['outputSchema not zod', { outputSchema: { type: 'object' } }, 'outputSchema', /expected a zod schema/],
    ['client not a client', { client: {} }, 'client', /expected a GoogleGenAI client/],
    ['retry.retries -1', { retry: { retries: -1 } }, 'retry.retries', /`retry\.retries`/],
    ['signal not a signal', { signal: 'stop' }, 'signal', /expected an AbortSignal/],
  ])('%s', (_name, patch, option, message) => {
    const err = errorOf(() => geminiBatch({ ...base, ...patch } as never));
    expect(err).toBeInstanceOf(GbsError);
    expect(err.code).toBe('GBS_INVALID_OPTION');
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });

  it('refuses an unknown option (a typo), naming it', () => {
    const err = errorOf(() => geminiBatch({ ...base, maxConcurentJobs: 3 } as never));
    expect(err.code).toBe('GBS_INVALID_OPTION');
    expect(err.message).toBe('Unknown geminiBatch option `maxConcurentJobs`');
  });

  it('accepts the documented defaults', () => {
    expect(() => geminiBatch(base)).not.toThrow();
  });
});

describe('the default client', () => {
  const saved = { GEMINI_API_KEY: process.env.GEMINI_API_KEY, GOOGLE_API_KEY: process.env.GOOGLE_API_KEY };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('stops with GBS_NO_API_KEY, naming both ways forward, when there is no key and no client', () => {
    delete process.env.GEMINI_API_KEY;
    delete process.env.GOOGLE_API_KEY;
    const err = errorOf(() => geminiBatch({ model: 'm', stateDir: '/tmp/x' }));
    expect(err.code).toBe('GBS_NO_API_KEY');
    expect(err.message).toContain('GEMINI_API_KEY');
    expect(err.message).toContain('client');
  });
});
