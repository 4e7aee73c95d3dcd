// toRequests: each row → exactly one BatchItem (a request, or an error saying where and why).

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GbsError } from '../../src/errors.js';
import type { RequestSpec } from '../../src/gemini/request.js';
import { csvSource } from '../../src/sources/csv.js';
import { ndjsonSource } from '../../src/sources/ndjson.js';
import {
  makeItemBuilder,
  type RequestBuilder,
  type ToRequestsOptions,
  toRequests,
} from '../../src/stages/to-requests.js';
import { type BatchItem, ROW_LINE, type Row } from '../../src/types.js';

const user = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

/** A row as a source would emit it, with its line attached. */
function at<R extends object>(line: number, row: R): R {
  (row as any)[ROW_LINE] = line;
  return row;
}

async function run<R = Row>(
  rows: Iterable<unknown> | AsyncIterable<unknown>,
  build: RequestBuilder<R>,
  options?: ToRequestsOptions<R>,
): Promise<BatchItem<R>[]> {
  const items: BatchItem<R>[] = [];
  await pipeline(
    Readable.from(rows as Iterable<unknown>, { objectMode: true }),
    toRequests(build, options),
    async (source: AsyncIterable<BatchItem<R>>) => {
      for await (const item of source) items.push(item);
    },
  );
  return items;
}

describe('makeItemBuilder', () => {
  it.each<[string, RequestSpec, Record<string, unknown>]>([
    ['a string prompt', 'Classify: great', user('Classify: great')],
    [
      '{ contents, config }',
      { contents: 'Classify: great', config: { temperature: 0, systemInstruction: 'Be terse.' } },
      {
        ...user('Classify: great'),
        systemInstruction: { role: 'user', parts: [{ text: 'Be terse.' }] },
        generationConfig: { temperature: 0 },
      },
    ],
    [
      'Contents with a model turn',
      {
        contents: [
          { role: 'user', parts: [{ text: 'a' }] },
          { role: 'model', parts: [{ text: 'b' }] },
        ],
      },
      {
        contents: [
          { role: 'user', parts: [{ text: 'a' }] },
          { role: 'model', parts: [{ text: 'b' }] },
        ],
      },
    ],
    [
      'a config with only lifted fields',
      { contents: 'x', config: { cachedContent: 'abc' } },
      { ...user('x'), cachedContent: 'cachedContents/abc', generationConfig: {} },
    ],
  ])('builds %s', async (_name, spec, request) => {
    const row = { id: 'r1' };
    const item = await makeItemBuilder(() => spec)(row, 0);
    expect(item).toEqual({ key: '0', request, row });
    expect(item.row).toBe(row);
  });

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

  it('carries the source line on the item', async () => {
    const row = at(17, { id: 'a' });
    const item = await makeItemBuilder(() => 'x')(row, 0);
    expect(item).toEqual({ key: '0', request: user('x'), row, line: 17 });
  });

  it('leaves line out when the source does not know it', async () => {
    const item = await makeItemBuilder(() => 'x')({ id: 'a' }, 0);
    expect('line' in item).toBe(false);
  });

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

  it.each<[string, () => unknown, RegExp]>([
    [
      'throws an Error',
      () => {
        throw new Error('column review missing');
      },
      /^the request builder threw: column review missing$/,
    ],
    [
      'throws a non-Error',
      () => {
        throw 404;
      },
      /^the request builder threw: 404$/,
    ],
    [
      'rejects (async)',
      async () => {
        throw new Error('lookup failed');
      },
      /^the request builder threw: lookup failed$/,
    ],
    ['returns a number', () => 42, /^the request is not valid: .*got number/],
    ['returns null', () => null, /^the request is not valid: .*got null/],
    ['returns undefined', () => undefined, /^the request is not valid: .*got undefined/],
    ['returns {}', () => ({}), /^the request is not valid: .*contents/],
    ['returns an empty string', () => '', /^the request is not valid: .*empty/],
    ['resolves to a number (async)', async () => 42, /^the request is not valid: .*got number/],
    ['returns a config with a typo', () => ({ contents: 'x', config: { temprature: 0.2 } }), /temprature/],
    [
      'returns a Vertex-only field',
      () => ({ contents: 'x', config: { routingConfig: { autoMode: {} } } }),
      /routingConfig/,
    ],
    [
      'mixes Content and parts',
      () => ({ contents: [{ role: 'user', parts: [{ text: 'a' }] }, 'b'] }),
      /Mixing Content and Parts/,
    ],
    [
      'returns a bare functionCall part',
      () => ({ contents: { functionCall: { name: 'f' } } }),
      /functionCall/,
    ],
  ])('a builder that %s → a build error', async (_name, build, message) => {
    const row = at(21, { id: 'k1' });
    const item = await makeItemBuilder(build as RequestBuilder<Row>, { key: (r) => r.id as string })(row, 0);
    expect(item).toEqual({
      key: 'k1',
      row,
      line: 21,
      error: { stage: 'build', code: 'GBS_BUILD_FAILED', line: 21, message: expect.stringMatching(message) },
    });
    expect(item.row).toBe(row);
  });

  it('an async builder resolves to an item', async () => {
    const row = { q: 'why' };
    const result = makeItemBuilder(async (r: { q: string }) => {
      await sleep(1);
      return { contents: r.q, config: { temperature: 0.3 } };
    })(row, 4);
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual({
      key: '4',
      request: { ...user('why'), generationConfig: { temperature: 0.3 } },
      row,
    });
  });

  it('a synchronous builder answers synchronously', () => {
    const result = makeItemBuilder(() => 'x')({}, 0);
    expect(result).not.toBeInstanceOf(Promise);
  });

  it('a read-error row passes through as an error item with stage read', async () => {
    const [row] = await (async () => {
      const rows: any[] = [];
      for await (const r of ndjsonSource(Readable.from([Buffer.from('\n{oops\n')]))) rows.push(r);
      return rows;
    })();
    const build = () => {
      throw new Error('must not be called');
    };
    const item = await makeItemBuilder(build, { key: () => 'never' })(row, 0);
    expect(item).toEqual({
      key: '#0',
      row,
      line: 2,
      error: {
        stage: 'read',
        code: 'GBS_INPUT_PARSE',
        line: 2,
        message: expect.stringMatching(/invalid JSON/),
      },
    });
  });

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
  it('every input row yields exactly one item, in order, with 0-based ordinal keys', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => at(i + 2, { n: i }));
    const items = await run(rows, (r: { n: number }) => `n=${r.n}`);
    expect(items.map((i) => i.key)).toEqual(rows.map((_, i) => String(i)));
    expect(items.map((i) => i.request)).toEqual(rows.map((r) => user(`n=${r.n}`)));
    expect(items.map((i) => i.line)).toEqual(rows.map((_, i) => i + 2));
    items.forEach((item, i) => {
      expect(item.row).toBe(rows[i]);
    });
  });

  it('keeps order with an async builder whose answers arrive out of order', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}` }));
    const items = await run(
      rows,
      async (r: { id: string }, i) => {
        await sleep((12 - i) % 4);
        return `p ${r.id}`;
      },
      { key: (r) => r.id },
    );
    expect(items.map((i) => [i.key, i.request])).toEqual(rows.map((r) => [r.id, user(`p ${r.id}`)]));
  });

  it('mixes good rows and every kind of failure, one item each, in order', async () => {
    const schema = z.object({ id: z.string(), text: z.string() });
    const rows = [
      at(2, { id: 'a', text: 'hello' }),
      at(3, { id: 'b' }),
      at(4, { id: '', text: 'no key' }),
      at(5, { id: 'd', text: 'THROW' }),
      at(6, { id: 'e', text: 'JUNK' }),
      at(7, { id: 'f', text: 'TYPO' }),
      at(8, { id: 'g', text: 'bye' }),
    ];
    const items = await run(
      rows,
      (r: z.infer<typeof schema>) => {
        if (r.text === 'THROW') throw new Error('boom');
        if (r.text === 'JUNK') return 7 as any;
        if (r.text === 'TYPO') return { contents: r.text, config: { temprature: 1 } } as any;
        return r.text;
      },
      { key: (r) => r.id, rowSchema: schema },
    );
    expect(items.map((i) => [i.key, i.line, i.error?.stage ?? 'ok', i.error?.code ?? null])).toEqual([
      ['a', 2, 'ok', null],
      ['b', 3, 'validate', 'GBS_ROW_INVALID'],
      ['#2', 4, 'validate', 'GBS_EMPTY_KEY'],
      ['d', 5, 'build', 'GBS_BUILD_FAILED'],
      ['e', 6, 'build', 'GBS_BUILD_FAILED'],
      ['f', 7, 'build', 'GBS_BUILD_FAILED'],
      ['g', 8, 'ok', null],
    ]);
    expect(items[1]?.error?.message).toMatch(/text: /);
    expect(items[3]?.error?.message).toBe('the request builder threw: boom');
    expect(items[5]?.error?.message).toMatch(/temprature/);
    expect(items[6]?.request).toEqual(user('bye'));
    items.forEach((item, i) => {
      // Rows that passed the schema continue as its output; the one that failed keeps the raw row.
      expect(item.row).toEqual(i === 1 ? rows[i] : schema.parse(rows[i]));
      expect(item.error?.line).toBe(item.error ? i + 2 : undefined);
    });
  });

  it('read-error rows from csvSource pass through with stage read and their line', async () => {
    const csv = 'id,text\n1,hello\n2\n3,"bye"\n';
    const items: BatchItem[] = [];
    await pipeline(
      csvSource(Readable.from([Buffer.from(csv)])),
      toRequests((r: any) => `say ${r.text}`, { key: (r: any) => r.id }),
      async (source: AsyncIterable<BatchItem>) => {
        for await (const item of source) items.push(item);
      },
    );
    expect(items).toEqual([
      { key: '1', request: user('say hello'), row: at(2, { id: '1', text: 'hello' }), line: 2 },
      {
        key: '#1',
        row: expect.any(Object),
        line: 3,
        error: {
          stage: 'read',
          code: 'GBS_INPUT_PARSE',
          line: 3,
          message: expect.stringMatching(/Invalid Record Length/),
        },
      },
      { key: '3', request: user('say bye'), row: at(4, { id: '3', text: 'bye' }), line: 4 },
    ]);
  });

  it('read-error rows from ndjsonSource pass through, default keys stay ordinals', async () => {
    const items: BatchItem[] = [];
    await pipeline(
      ndjsonSource(Readable.from([Buffer.from('{"q":"a"}\n[1]\n\n{"q":"c"}\n')])),
      toRequests((r: any) => r.q),
      async (source: AsyncIterable<BatchItem>) => {
        for await (const item of source) items.push(item);
      },
    );
    expect(items.map((i) => [i.key, i.line, i.error?.stage ?? 'ok'])).toEqual([
      ['0', 1, 'ok'],
      ['1', 2, 'read'],
      ['2', 4, 'ok'],
    ]);
  });

  it('an empty input yields no items', async () => {
    expect(await run([], () => 'x')).toEqual([]);
  });

  it('bad options throw when the stage is made, not when rows flow', () => {
    expect(() => toRequests('prompt' as any)).toThrow(
      expect.objectContaining({ code: 'GBS_INVALID_OPTION', option: 'build' }),
    );
    expect(() => toRequests(() => 'x', { key: 'id' as any })).toThrow(
      expect.objectContaining({ code: 'GBS_INVALID_OPTION', option: 'key' }),
    );
  });
});
