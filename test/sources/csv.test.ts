// csvSource: rows with the line each starts on, read errors as error rows, from a path or a Readable.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { type CsvSourceOptions, csvSource } from '../../src/sources/csv.js';
import { rowLine } from '../../src/types.js';
import { tempDirs } from '../helpers.js';
import { bad, bytes, collect, inputModes, type Out, ok } from './helpers.js';

const temp = tempDirs();

const MODES = inputModes<CsvSourceOptions>(csvSource, 'in.csv', temp);

const EMOJI = Buffer.from('😀', 'utf8');

const CASES: Array<[string, Buffer[], CsvSourceOptions | undefined, Out[]]> = [
  [
    'header → objects',
    bytes('id,review\n1,great\n2,bad\n'),
    undefined,
    [ok(2, { id: '1', review: 'great' }), ok(3, { id: '2', review: 'bad' })],
  ],
  [
    'quoted fields with commas and escaped quotes',
    bytes('a,b\n"x, y","he said ""hi"""\n"",""""\n'),
    undefined,
    [ok(2, { a: 'x, y', b: 'he said "hi"' }), ok(3, { a: '', b: '"' })],
  ],
  [
    'multi-line fields (rows start on the record’s first line)',
    bytes('a,b\n"l1\nl2\nl3",x\n5,6\n"p\nq","r\ns"\n7,8\n'),
    undefined,
    [
      ok(2, { a: 'l1\nl2\nl3', b: 'x' }),
      ok(5, { a: '5', b: '6' }),
      ok(6, { a: 'p\nq', b: 'r\ns' }),
      ok(9, { a: '7', b: '8' }),
    ],
  ],
  ['a BOM', bytes([0xef, 0xbb, 0xbf], 'name,n\nAnn,1\n'), undefined, [ok(2, { name: 'Ann', n: '1' })]],
  [
    'CRLF line ends',
    bytes('a,b\r\n1,2\r\n3,4\r\n'),
    undefined,
    [ok(2, { a: '1', b: '2' }), ok(3, { a: '3', b: '4' })],
  ],
  [
    'BOM and CRLF together, no final newline',
    bytes([0xef, 0xbb, 0xbf], 'a,b\r\n1,2\r\n3,4'),
    undefined,
    [ok(2, { a: '1', b: '2' }), ok(3, { a: '3', b: '4' })],
  ],
  [
    'CRLF with empty lines',
    bytes('a,b\r\n1,2\r\n\r\n5,6\r\n'),
    undefined,
    [ok(2, { a: '1', b: '2' }), ok(4, { a: '5', b: '6' })],
  ],
  [
    'CRLF with a multi-line field',
    bytes('a,b\r\n"l1\r\nl2",x\r\n5,6\r\n'),
    undefined,
    [ok(2, { a: 'l1\r\nl2', b: 'x' }), ok(4, { a: '5', b: '6' })],
  ],
  [
    'CRLF with a multi-line field and an empty line',
    bytes('a,b\r\n"l1\r\nl2",x\r\n\r\n5,6\r\n'),
    undefined,
    [ok(2, { a: 'l1\r\nl2', b: 'x' }), ok(5, { a: '5', b: '6' })],
  ],
  [
    'empty fields',
    bytes('a,b,c\n,,\n1,,3\n"",x,\n'),
    undefined,
    [ok(2, { a: '', b: '', c: '' }), ok(3, { a: '1', b: '', c: '3' }), ok(4, { a: '', b: 'x', c: '' })],
  ],
  [
    'unicode (é, emoji, CJK)',
    bytes('name,note\nRené,café ☕\n"Zoë","😀 日本語"\n'),
    undefined,
    [ok(2, { name: 'René', note: 'café ☕' }), ok(3, { name: 'Zoë', note: '😀 日本語' })],
  ],
  [
    'a multi-byte character split across chunks',
    [
      Buffer.from('a,b\nx'),
      EMOJI.subarray(0, 1),
      EMOJI.subarray(1, 3),
      Buffer.concat([EMOJI.subarray(3), Buffer.from(',é\n')]),
    ],
    undefined,
    [ok(2, { a: 'x😀', b: 'é' })],
  ],
  [
    'empty lines are skipped but counted',
    bytes('a,b\n\n1,2\n\n\n3,4\n\n'),
    undefined,
    [ok(3, { a: '1', b: '2' }), ok(6, { a: '3', b: '4' })],
  ],
  [
    'empty lines after a multi-line record',
    bytes('a,b\n"x\ny",1\n\n2,3\n'),
    undefined,
    [ok(2, { a: 'x\ny', b: '1' }), ok(5, { a: '2', b: '3' })],
  ],
  ['a header only', bytes('a,b\n'), undefined, []],
  ['an empty input', bytes(''), undefined, []],
  [
    'ragged rows become error rows and the run goes on',
    bytes('a,b\n1,2\n3\n4,5,6\n7,8\n'),
    undefined,
    [
      ok(2, { a: '1', b: '2' }),
      bad(3, /columns length is 2, got 1/),
      bad(4, /columns length is 2, got 3/),
      ok(5, { a: '7', b: '8' }),
    ],
  ],
  [
    'a ragged first data row',
    bytes('a,b\n1\n2,3\n'),
    undefined,
    [bad(2, /Invalid Record Length/), ok(3, { a: '2', b: '3' })],
  ],
  [
    'a ragged multi-line row reports the line it starts on',
    bytes('a,b\n1,2\n"x\ny"\n7,8\n'),
    undefined,
    [ok(2, { a: '1', b: '2' }), bad(3, /Invalid Record Length/), ok(5, { a: '7', b: '8' })],
  ],
  [
    'a ragged row after a multi-line record',
    bytes('a,b\n"p\nq",2\n3\n7,8\n'),
    undefined,
    [ok(2, { a: 'p\nq', b: '2' }), bad(4, /Invalid Record Length/), ok(5, { a: '7', b: '8' })],
  ],
  [
    'an unclosed quote reports the line the record starts on',
    bytes('a,b\n1,2\n"x,3\n4,5\n'),
    undefined,
    [ok(2, { a: '1', b: '2' }), bad(3, /Quote Not Closed/)],
  ],
  [
    // csv-parse cannot find where a record with a stray quote ends: it reads on in quote mode to the
    // end of the input, all one record, whose error record names the lines it swallowed.
    'an invalid closing quote: one error row naming the lines it swallowed',
    bytes('a,b\n1,2\n"x"y,3\n4,5\n6,7\n'),
    undefined,
    [ok(2, { a: '1', b: '2' }), bad(3, /Invalid Closing Quote.*spans lines 3–5/)],
  ],
  [
    'bytes that are not UTF-8 → an error row by default',
    bytes('name\n', [0x63, 0x61, 0x66, 0xe9], '\nok\n'),
    undefined,
    [bad(2, /UTF-8/), ok(3, { name: 'ok' })],
  ],
  [
    "bytes that are not UTF-8 kept with invalidUtf8: 'keep'",
    bytes('name\n', [0x63, 0x61, 0x66, 0xe9], '\nok\n'),
    { invalidUtf8: 'keep' },
    [ok(2, { name: 'caf\uFFFD' }), ok(3, { name: 'ok' })],
  ],
  [
    "latin1 read correctly with encoding: 'latin1'",
    bytes('name,city\n', [0x52, 0x65, 0x6e, 0xe9, 0x2c, 0x4e, 0xee, 0x6d, 0x65, 0x73], '\n'),
    { encoding: 'latin1' },
    [ok(2, { name: 'René', city: 'Nîmes' })],
  ],
  ["delimiter: ';'", bytes('a;b\n1;"x;y"\n'), { delimiter: ';' }, [ok(2, { a: '1', b: 'x;y' })]],
  [
    "columns: ['a','b'] without a header (rows start on line 1)",
    bytes('1,2\n3,4\n'),
    { columns: ['a', 'b'] },
    [ok(1, { a: '1', b: '2' }), ok(2, { a: '3', b: '4' })],
  ],
  [
    'columns as a function (the header row still counts)',
    bytes('A,B\n1,2\n'),
    { columns: (header: string[]) => header.map((h) => h.toLowerCase()) },
    [ok(2, { a: '1', b: '2' })],
  ],
  [
    'comment lines are counted',
    bytes('a,b\n# a comment\n1,2\n# another\n3,4\n'),
    { comment: '#' },
    [ok(3, { a: '1', b: '2' }), ok(5, { a: '3', b: '4' })],
  ],
  ['from_line', bytes('junk line\na,b\n1,2\n'), { from_line: 2 }, [ok(3, { a: '1', b: '2' })]],
  ['trim', bytes('a,b\n 1 , 2 \n'), { trim: true }, [ok(2, { a: '1', b: '2' })]],
  ['quote: "\'"', bytes("a,b\n'x,y',2\n"), { quote: "'" }, [ok(2, { a: 'x,y', b: '2' })]],
  [
    'on_record can change and drop records',
    bytes('a,b\n1,2\n3,4\n5,6\n'),
    { on_record: (r: any) => (r.a === '3' ? null : { ...r, c: 'x' }) },
    [ok(2, { a: '1', b: '2', c: 'x' }), ok(4, { a: '5', b: '6', c: 'x' })],
  ],
];

describe.each(MODES)('csvSource from a $mode', ({ open }) => {
  it.each(CASES)('%s', async (_name, chunks, options, expected) => {
    expect(await collect(open(chunks, options))).toEqual(expected);
  });

  it('read errors carry a message a person can act on', async () => {
    const [row] = await collect(open(bytes('name\n', [0xe9], '\n')));
    expect((row!.error as { message: string }).message).toMatch(/encoding.*latin1|invalidUtf8/);
  });

  it('composes with stream/promises pipeline', async () => {
    const seen: unknown[] = [];
    await pipeline(open(bytes('a\n1\n2\n')), async (source: AsyncIterable<any>) => {
      for await (const row of source) seen.push([row.a, rowLine(row)]);
    });
    expect(seen).toEqual([
      ['1', 2],
      ['2', 3],
    ]);
  });
});

describe('csvSource', () => {
  it('a missing file makes the stream error with ENOENT', async () => {
    await expect(collect(csvSource(join(temp(), 'nope.csv')))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads a file given as a URL', async () => {
    const path = join(temp(), 'u.csv');
    writeFileSync(path, 'a\nx\n');
    expect(await collect(csvSource(new URL(`file://${path}`)))).toEqual([ok(2, { a: 'x' })]);
  });

  it('an input that is neither a path nor a Readable throws GBS_INVALID_OPTION', () => {
    expect(() => csvSource(42 as any)).toThrow(expect.objectContaining({ code: 'GBS_INVALID_OPTION' }));
  });

  it('the line is invisible in JSON and in Object.keys', async () => {
    const [row] = await (async () => {
      const rows: any[] = [];
      for await (const r of csvSource(Readable.from([Buffer.from('a\n1\n')]))) rows.push(r);
      return rows;
    })();
    expect(JSON.stringify(row)).toBe('{"a":"1"}');
    expect(Object.keys(row)).toEqual(['a']);
    expect(rowLine(row)).toBe(2);
  });

  it('an error in the input stream reaches the consumer', async () => {
    const input = new Readable({
      read() {
        this.push(Buffer.from('a\n1\n'));
        this.destroy(new Error('disk on fire'));
      },
    });
    await expect(collect(csvSource(input))).rejects.toThrow('disk on fire');
  });

  it('many rows keep their lines across chunk boundaries', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? `"${i}\nx",${i}` : `${i},${i}`));
    const text = `a,b\n${lines.join('\n')}\n`;
    // 7-byte chunks cut through records, quotes and newlines.
    const buf = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 7) chunks.push(buf.subarray(i, i + 7));
    const rows = await collect(csvSource(Readable.from(chunks)));
    expect(rows).toHaveLength(2000);
    let line = 2;
    for (const [i, row] of rows.entries()) {
      expect(row.line).toBe(line);
      expect(row.data?.b).toBe(String(i));
      line += i % 10 === 0 ? 2 : 1;
    }
  });
});
