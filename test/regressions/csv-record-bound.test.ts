// Regression: csvSource held a record whole however large it grew: an unclosed quote on line 2 of a
// 302 MB CSV made one 482 MB record. A record past `maxRecordBytes` is now an error record, read to
// its end without being held, and the rows around it come out. csv-parse's `max_record_size` is refused.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv.js';
import { tempDirs } from '../helpers.js';
import { bad, collect, ok } from '../sources/helpers.js';

const temp = tempDirs();
const MiB = 1024 * 1024;
const BOUND = MiB;

/** `n` lines `i,text i` (numbered from `first`), about 20 bytes each. */
function lines(first: number, n: number): string {
  let out = '';
  for (let i = first; i < first + n; i++) out += `${i},text ${i}\n`;
  return out;
}

type Parser = { state: { field: { size: number }; record: unknown[] } };

/**
 * `text` as a Readable of 512 KiB pieces that notes, before each piece, how much the parser holds
 * of the record it is reading (its field buffer and the fields it has already cut).
 */
function watched(text: string): { input: Readable; held: () => number; attach: (p: unknown) => void } {
  const buf = Buffer.from(text);
  let parser: Parser | undefined;
  let most = 0;
  const note = () => {
    if (!parser) return;
    const fields = parser.state.record.reduce<number>((n, f) => n + String(f).length, 0);
    most = Math.max(most, parser.state.field.size + fields);
  };
  const input = Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += 512 * 1024) {
        note();
        yield buf.subarray(i, i + 512 * 1024);
      }
      note();
    })(),
    { objectMode: false },
  );
  return { input, held: () => most, attach: (p) => (parser = p as Parser) };
}

describe('csvSource: maxRecordBytes', () => {
  it('an unclosed quote: the rows before come out, then one error record to the end; memory stays bounded', async () => {
    const rest = lines(6, 200_000); // ~4 MB swallowed by the quote
    const text = `id,text\n${lines(1, 3)}5,"broken\n${rest}`;
    const last = 5 + 200_000;
    const { input, held, attach } = watched(text);
    const source = csvSource(input, { maxRecordBytes: BOUND });
    attach(source);
    expect(await collect(source)).toEqual([
      ok(2, { id: '1', text: 'text 1' }),
      ok(3, { id: '2', text: 'text 2' }),
      ok(4, { id: '3', text: 'text 3' }),
      bad(5, new RegExp(`maxRecordBytes \\(${BOUND} bytes\\).*unclosed quote.*spans lines 5–${last}`)),
    ]);
    expect(held()).toBeLessThan(3 * BOUND);
  });

  it('a huge legit field: an error record, and the rows after it come out (from a path)', async () => {
    const path = join(temp(), 'big.csv');
    writeFileSync(
      path,
      `id,text\n1,a\n2,"${'x'.repeat(3 * MiB)}\nmore"\n3,b\n4,"${'y'.repeat(BOUND - 100)}"\n`,
    );
    const rows = await collect(csvSource(path, { maxRecordBytes: BOUND }));
    expect(rows.map((r) => [r.line, r.error ? 'error' : String(r.data?.text).length])).toEqual([
      [2, 1],
      [3, 'error'],
      [5, 1],
      [6, BOUND - 100],
    ]);
    expect(rows[1]).toEqual(bad(3, /longer than maxRecordBytes.*spans lines 3–4/));
  });

  it('one big chunk is read in pieces: the bound holds for a Readable of a single Buffer', async () => {
    const text = `id,text\n1,a\n2,"${'x'.repeat(3 * MiB)}"\n3,b\n`;
    const rows = await collect(csvSource(Readable.from([Buffer.from(text)]), { maxRecordBytes: BOUND }));
    expect(rows).toEqual([
      ok(2, { id: '1', text: 'a' }),
      bad(3, /maxRecordBytes/),
      ok(4, { id: '3', text: 'b' }),
    ]);
  });

  it('many small fields count too', async () => {
    const text = `a,b\n1,${','.repeat(2 * BOUND)}\n3,4\n`;
    const rows = await collect(csvSource(Readable.from([Buffer.from(text)]), { maxRecordBytes: BOUND }));
    expect(rows).toEqual([bad(2, /maxRecordBytes/), ok(3, { a: '3', b: '4' })]);
  });

  it('the row after an oversize record comes out also where csv-parse returns early (skip_records_with_empty_values)', async () => {
    // The oversize record is all commas: empty values, which csv-parse skips on a path of its own.
    const text = `a,b\n1,2\n${','.repeat(2 * BOUND)}\n3,4\n5,6\n`;
    const rows = await collect(
      csvSource(Readable.from([Buffer.from(text)]), {
        maxRecordBytes: BOUND,
        skip_records_with_empty_values: true,
      } as never),
    );
    expect(rows.filter((r) => 'data' in r)).toEqual([
      ok(2, { a: '1', b: '2' }),
      ok(4, { a: '3', b: '4' }),
      ok(5, { a: '5', b: '6' }),
    ]);
  });

  it('a line before from_line that is over the bound is no record: nothing of it leaks into the next', async () => {
    const text = `${'x'.repeat(2 * BOUND)}\na,b\n1,2\n`;
    const rows = await collect(
      csvSource(Readable.from([Buffer.from(text)]), { maxRecordBytes: BOUND, from_line: 2 } as never),
    );
    expect(rows).toEqual([ok(3, { a: '1', b: '2' })]);
  });

  it('an oversize header stops the source: what is left of it would name the columns wrongly', async () => {
    const text = `${'h'.repeat(2 * BOUND)},b\n1,2\n`;
    await expect(
      collect(csvSource(Readable.from([Buffer.from(text)]), { maxRecordBytes: BOUND })),
    ).rejects.toMatchObject({
      code: 'GBS_INPUT_PARSE',
      message: expect.stringMatching(/header is longer than maxRecordBytes/),
    });
  });

  it('blank lines between records do not count toward the next record', async () => {
    const text = `a,b\n1,2\n${'\n'.repeat(2 * BOUND)}3,4\n`;
    const rows = await collect(csvSource(Readable.from([Buffer.from(text)]), { maxRecordBytes: BOUND }));
    expect(rows).toEqual([ok(2, { a: '1', b: '2' }), ok(2 * BOUND + 3, { a: '3', b: '4' })]);
  });

  it.each(['max_record_size', 'maxRecordSize'])(
    "csv-parse's %s is refused (its skip path dropped every row after an oversize one)",
    (name) => {
      expect(() => csvSource(Readable.from(['a\n1\n']), { [name]: 10 } as never)).toThrow(
        expect.objectContaining({
          code: 'GBS_INVALID_OPTION',
          message: expect.stringMatching(new RegExp(`${name}.*maxRecordBytes`)),
        }),
      );
    },
  );
});
