// makeItemBuilder, the key side: the default ordinal key, a custom key function and what it is given,
// and a key function that throws or returns nothing → an error item with the fallback key #<ordinal>.

import { describe, expect, it } from 'vitest';
import { makeItemBuilder } from '../../src/stages/to-requests.js';
import { at, user } from './helpers.js';

describe('makeItemBuilder', () => {
  it.each([0, 1, 7, 12345])('the default key is the 0-based ordinal %i as a string', async (ordinal) => {
    const item = await makeItemBuilder(() => 'x')({}, ordinal);
    expect(item.key).toBe(String(ordinal));
  });

  it.each<[string, unknown, string]>([
    ['a string', 'abc', 'abc'],
    ['a number', 42, '42'],
    ['zero', 0, '0'],
    ['a negative float', -1.5, '-1.5'],
    ['a string with spaces and unicode', ' é 1 ', ' é 1 '],
  ])('a custom key: %s', async (_name, value, expected) => {
    const item = await makeItemBuilder(() => 'x', { key: () => value as string })({}, 3);
    expect(item).toMatchObject({ key: expected, request: user('x') });
  });

  it('the builder and the key function get the row and its ordinal', async () => {
    const calls: unknown[] = [];
    const row = { id: 'a' };
    const item = await makeItemBuilder(
      (r: { id: string }, i) => {
        calls.push(['build', r, i]);
        return `${r.id}#${i}`;
      },
      {
        key: (r, i) => {
          calls.push(['key', r, i]);
          return `${r.id}-${i}`;
        },
      },
    )(row, 5);
    expect(calls).toEqual([
      ['key', row, 5],
      ['build', row, 5],
    ]);
    expect(item).toEqual({ key: 'a-5', request: user('a#5'), row });
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'throws an Error',
      () => {
        throw new Error('no id column');
      },
      /^the key function threw: no id column$/,
    ],
    [
      'throws a string',
      () => {
        throw 'bad';
      },
      /^the key function threw: bad$/,
    ],
  ])('a key function that %s → a build error with the fallback key', async (_name, key, message) => {
    const row = at(3, { a: 1 });
    const item = await makeItemBuilder(() => 'x', { key: key as any })(row, 6);
    expect(item).toEqual({
      key: '#6',
      row,
      line: 3,
      error: { stage: 'build', code: 'GBS_BUILD_FAILED', line: 3, message: expect.stringMatching(message) },
    });
  });

  it.each<[string, unknown]>([
    ['an empty string', ''],
    ['undefined', undefined],
    ['null', null],
  ])('a key function returning %s → GBS_EMPTY_KEY with key #<ordinal>', async (_name, value) => {
    const row = at(12, { a: 1 });
    const item = await makeItemBuilder(() => 'x', { key: () => value as string })(row, 11);
    expect(item).toEqual({
      key: '#11',
      row,
      line: 12,
      error: {
        stage: 'validate',
        code: 'GBS_EMPTY_KEY',
        line: 12,
        message: expect.stringMatching(/empty key/),
      },
    });
    expect(item.request).toBeUndefined();
  });
});
