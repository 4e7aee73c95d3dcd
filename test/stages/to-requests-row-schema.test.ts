// makeItemBuilder with rowSchema: a passing row is built from and continues as the parsed data; a
// failing one becomes a validate error naming every bad field, with its line.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { makeItemBuilder } from '../../src/stages/to-requests.js';
import { at, user } from './helpers.js';

describe('makeItemBuilder', () => {
  describe('rowSchema', () => {
    const schema = z.object({ id: z.string().min(1), score: z.coerce.number().int() });
    type R = z.infer<typeof schema>;

    it('a passing row is built from, and continues as, the parsed data', async () => {
      const row = at(4, { id: 'a', score: '7' });
      const seen: unknown[] = [];
      const item = await makeItemBuilder<R>(
        (r) => {
          seen.push(r);
          return `score ${r.score + 1}`;
        },
        { rowSchema: schema, key: (r) => r.id },
      )(row as any, 0);
      expect(seen).toEqual([{ id: 'a', score: 7 }]);
      expect(item).toEqual({ key: 'a', request: user('score 8'), row: { id: 'a', score: 7 }, line: 4 });
      expect(item.row).toBe(seen[0]);
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
      ['a missing field', { score: '1' }, /^the row does not match rowSchema: id: /],
      ['an empty string', { id: '', score: '1' }, /id: .*(>=1|at least 1|too small)/i],
      ['a bad number', { id: 'a', score: 'abc' }, /score: /],
      ['a float for an int', { id: 'a', score: '1.5' }, /score: /],
    ])('%s → a validate error naming the field, with the line', async (_name, fields, message) => {
      const row = at(9, { ...fields });
      const build = () => {
        throw new Error('must not be called');
      };
      const item = await makeItemBuilder<R>(build, { rowSchema: schema, key: (r) => r.id })(row as any, 2);
      // The row's own key when the key function can still read it; `#<ordinal>` otherwise.
      expect(item).toEqual({
        key: typeof fields.id === 'string' && fields.id !== '' ? fields.id : '#2',
        row,
        line: 9,
        error: {
          stage: 'validate',
          code: 'GBS_ROW_INVALID',
          line: 9,
          message: expect.stringMatching(message),
        },
      });
      expect(item.row).toBe(row);
      expect(item.request).toBeUndefined();
    });

    it('names every failing field', async () => {
      const item = await makeItemBuilder<R>(() => 'x', { rowSchema: schema })({} as any, 0);
      expect(item.error?.message).toMatch(/id: /);
      expect(item.error?.message).toMatch(/score: /);
      expect(item.key).toBe('0');
    });
  });
});
