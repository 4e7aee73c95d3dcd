// Bad options for makeItemBuilder and toRequests: a GbsError GBS_INVALID_OPTION naming the option,
// thrown when the builder or the stage is made, not once rows flow.

import { describe, expect, it } from 'vitest';
import { GbsError } from '../../src/errors.js';
import { makeItemBuilder, toRequests } from '../../src/stages/to-requests.js';

describe('makeItemBuilder', () => {
  it.each<[string, unknown, Record<string, unknown> | undefined, string]>([
    ['build is a string', 'Classify this', undefined, 'build'],
    ['build is undefined', undefined, undefined, 'build'],
    ['build is an object', { contents: 'x' }, undefined, 'build'],
    ['key is a string', () => 'x', { key: 'id' }, 'key'],
    ['key is a number', () => 'x', { key: 1 }, 'key'],
    ['rowSchema is not a schema', () => 'x', { rowSchema: { id: 'string' } }, 'rowSchema'],
  ])('bad options: %s → GBS_INVALID_OPTION', (_name, build, options, option) => {
    const call = () => makeItemBuilder(build as any, options as any);
    expect(call).toThrow(GbsError);
    expect(call).toThrow(expect.objectContaining({ code: 'GBS_INVALID_OPTION', option }));
    expect(call).toThrow(new RegExp(`\`${option}\``));
  });
});

describe('toRequests (stream)', () => {
  it('bad options throw when the stage is made, not when rows flow', () => {
    expect(() => toRequests('prompt' as any)).toThrow(
      expect.objectContaining({ code: 'GBS_INVALID_OPTION', option: 'build' }),
    );
    expect(() => toRequests(() => 'x', { key: 'id' as any })).toThrow(
      expect.objectContaining({ code: 'GBS_INVALID_OPTION', option: 'key' }),
    );
  });
});
