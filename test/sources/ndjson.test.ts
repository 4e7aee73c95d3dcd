// ndjsonSource: one object per line with its line number; bad lines become error rows.

import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type NdjsonSourceOptions, ndjsonSource } from '../../src/sources/ndjson.js';
import { rowLine } from '../../src/types.js';
import { tempDirs } from '../helpers.js';
import { bad, bytes, collect, inputModes, type Out, ok } from './helpers.js';

const temp = tempDirs();

const MODES = inputModes<NdjsonSourceOptions>(ndjsonSource, 'in.ndjson', temp);

const EMOJI = Buffer.from('🎉', 'utf8');

const CASES: Array<[string, Buffer[], NdjsonSourceOptions | undefined, Out[]]> = [
  [
    'objects with their line numbers',
    bytes('{"id":1,"text":"a"}\n{"id":2,"nested":{"x":[1,2]}}\n{"id":3,"n":null}\n'),
    undefined,
    [ok(1, { id: 1, text: 'a' }), ok(2, { id: 2, nested: { x: [1, 2] } }), ok(3, { id: 3, n: null })],
  ],
  [
    'blank lines are skipped but counted',
    bytes('\n{"a":1}\n\n   \n\t\n{"a":2}\n\n'),
    undefined,
    [ok(2, { a: 1 }), ok(6, { a: 2 })],
  ],
  ['CRLF line ends', bytes('{"a":1}\r\n\r\n{"a":"x"}\r\n'), undefined, [ok(1, { a: 1 }), ok(3, { a: 'x' })]],
  [
    'a BOM on line 1',
    bytes([0xef, 0xbb, 0xbf], '{"a":1}\n{"a":2}\n'),
    undefined,
    [ok(1, { a: 1 }), ok(2, { a: 2 })],
  ],
  ['a BOM then CRLF', bytes([0xef, 0xbb, 0xbf], '{"a":1}\r\n'), undefined, [ok(1, { a: 1 })]],
  ['a final line without newline', bytes('{"a":1}\n{"a":2}'), undefined, [ok(1, { a: 1 }), ok(2, { a: 2 })]],
  ['surrounding whitespace', bytes('  {"a":1}  \n'), undefined, [ok(1, { a: 1 })]],
  [
    'unicode',
    bytes('{"t":"café 😀 日本"}\n{"t":"\\u00e9"}\n'),
    undefined,
    [ok(1, { t: 'café 😀 日本' }), ok(2, { t: 'é' })],
  ],
  [
    'a multi-byte character split across chunks',
    [
      Buffer.from('{"t":"'),
      EMOJI.subarray(0, 2),
      Buffer.concat([EMOJI.subarray(2), Buffer.from('"}\n{"u":1}\n')]),
    ],
    undefined,
    [ok(1, { t: '🎉' }), ok(2, { u: 1 })],
  ],
  [
    'a line split across many chunks',
    bytes('{"a"', ':', '1}', '\n{', '"b":2', '}\n'),
    undefined,
    [ok(1, { a: 1 }), ok(2, { b: 2 })],
  ],
  ['an empty input', bytes(''), undefined, []],
  ['only blank lines', bytes('\n\n \r\n'), undefined, []],
  [
    'an invalid JSON line → error row, the run goes on',
    bytes('{"a":1}\n{bad json\n{"a":3}\n'),
    undefined,
    [ok(1, { a: 1 }), bad(2, /invalid JSON/), ok(3, { a: 3 })],
  ],
  ['a truncated last line', bytes('{"a":1}\n{"a":'), undefined, [ok(1, { a: 1 }), bad(2, /invalid JSON/)]],
  [
    'two objects on one line',
    bytes('{"a":1}{"a":2}\n{"a":3}\n'),
    undefined,
    [bad(1, /invalid JSON/), ok(2, { a: 3 })],
  ],
  [
    'an array',
    bytes('[1,2]\n{"a":1}\n'),
    undefined,
    [bad(1, /expected a JSON object, got an array/), ok(2, { a: 1 })],
  ],
  ['a number', bytes('42\n'), undefined, [bad(1, /expected a JSON object, got 42/)]],
  ['a string', bytes('"hello"\n'), undefined, [bad(1, /expected a JSON object, got "hello"/)]],
  ['null', bytes('null\n'), undefined, [bad(1, /expected a JSON object, got null/)]],
  ['a boolean', bytes('true\n'), undefined, [bad(1, /expected a JSON object, got true/)]],
  [
    'a mix of bad lines keeps every line number',
    bytes('{"a":1}\n[]\n\n7\n{"a":2}\n"s"\nnull\n{x}\n{"a":3}'),
    undefined,
    [
      ok(1, { a: 1 }),
      bad(2, /array/),
      bad(4, /got 7/),
      ok(5, { a: 2 }),
      bad(6, /got "s"/),
      bad(7, /got null/),
      bad(8, /invalid JSON/),
      ok(9, { a: 3 }),
    ],
  ],
  [
    'bytes that are not UTF-8 → error row',
    bytes('{"a":1}\n', '{"t":"caf', [0xe9], '"}\n{"a":3}\n'),
    undefined,
    [ok(1, { a: 1 }), bad(2, /UTF-8/), ok(3, { a: 3 })],
  ],
  [
    "bytes that are not UTF-8 kept with invalidUtf8: 'keep'",
    bytes('{"t":"caf', [0xe9], '"}\n'),
    { invalidUtf8: 'keep' },
    [ok(1, { t: 'caf\uFFFD' })],
  ],
  [
    'a line exactly maxLineLength long is accepted',
    bytes('{"a":"123"}\n{"b":1}\n'),
    { maxLineLength: 11 },
    [ok(1, { a: '123' }), ok(2, { b: 1 })],
  ],
];

const LONG = `{"a":"${'x'.repeat(100)}"}`;

// A line longer than maxLineLength becomes an error record and the run goes on, wherever its end
// arrives; past 3 bytes per character it is skipped without being held (its length then in bytes).
const TOO_LONG_ROWS: Array<[string, Buffer[], Out[]]> = [
  [
    'a long line with its newline, in one chunk',
    bytes(`{"a":1}\n${LONG}\n{"b":2}\n`),
    [ok(1, { a: 1 }), bad(2, /108 bytes long, more than maxLineLength \(20 characters\)/), ok(3, { b: 2 })],
  ],
  ['a long first line', bytes(`${LONG}\n`), [bad(1, /more than maxLineLength/)]],
  [
    'a long last line without newline',
    bytes(`{"a":1}\n${LONG}`),
    [ok(1, { a: 1 }), bad(2, /108 bytes long/)],
  ],
  [
    'a long line whose end arrives in a later chunk',
    bytes(`{"a":1}\n${LONG.slice(0, 50)}`, `${LONG.slice(50)}\n{"b":2}\n`),
    [ok(1, { a: 1 }), bad(2, /108 bytes long/), ok(3, { b: 2 })],
  ],
  [
    'a line over the limit in characters but under 3 bytes each',
    bytes(`{"a":"${'x'.repeat(30)}"}\n{"b":2}\n`),
    [bad(1, /38 characters long, more than maxLineLength \(20 characters\)/), ok(2, { b: 2 })],
  ],
];

describe.each(MODES)('ndjsonSource from a $mode', ({ open }) => {
  it.each(CASES)('%s', async (_name, chunks, options, expected) => {
    expect(await collect(open(chunks, options))).toEqual(expected);
  });

  it.each(TOO_LONG_ROWS)(
    'maxLineLength exceeded by %s → an error record',
    async (_name, chunks, expected) => {
      expect(await collect(open(chunks, { maxLineLength: 20 }))).toEqual(expected);
    },
  );
});

describe('ndjsonSource', () => {
  it('a line of 40 MB is read in linear time, and one over maxLineLength is skipped, not held', async () => {
    const big = `{"t":"${'y'.repeat(40 * 2 ** 20)}"}`;
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += 65536) chunks.push(Buffer.from(big.slice(i, i + 65536)));
    const rows = await collect(ndjsonSource(Readable.from([...chunks, Buffer.from('\n{"b":2}\n')])));
    expect(rows).toHaveLength(2);
    expect(String(rows[0]?.data?.t).length).toBe(40 * 2 ** 20);
    const skipped = await collect(
      ndjsonSource(Readable.from([...chunks, Buffer.from('\n{"b":2}\n')]), { maxLineLength: 2 ** 20 }),
    );
    expect(skipped).toEqual([bad(1, /more than maxLineLength/), ok(2, { b: 2 })]);
  });

  it('a missing file makes the stream error with ENOENT', async () => {
    await expect(collect(ndjsonSource(join(temp(), 'nope.ndjson')))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('an input that is neither a path nor a Readable throws GBS_INVALID_OPTION', () => {
    expect(() => ndjsonSource({} as any)).toThrow(expect.objectContaining({ code: 'GBS_INVALID_OPTION' }));
  });

  it('the line is invisible in JSON', async () => {
    const rows: any[] = [];
    for await (const r of ndjsonSource(Readable.from([Buffer.from('\n{"a":1}\n')]))) rows.push(r);
    expect(JSON.stringify(rows)).toBe('[{"a":1}]');
    expect(rowLine(rows[0])).toBe(2);
  });

  it('many lines in small chunks keep their numbers', async () => {
    const text = Array.from({ length: 3000 }, (_, i) => (i % 7 === 3 ? '' : JSON.stringify({ i }))).join(
      '\n',
    );
    const buf = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 5) chunks.push(buf.subarray(i, i + 5));
    const rows = await collect(ndjsonSource(Readable.from(chunks)));
    expect(rows).toHaveLength(3000 - Math.floor((3000 - 3 + 6) / 7));
    for (const row of rows) expect(row.line).toBe((row.data?.i as number) + 1);
  });
});
