// toRequests as a stream: every row → exactly one BatchItem, in input order even with an async
// builder, good rows, failures and read errors from real sources mixed.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { csvSource } from '../../src/sources/csv.js';
import { ndjsonSource } from '../../src/sources/ndjson.js';
import { type RequestBuilder, type ToRequestsOptions, toRequests } from '../../src/stages/to-requests.js';
import type { BatchItem, Row } from '../../src/types.js';
import { at, user } from './helpers.js';

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
});
