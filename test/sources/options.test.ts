// The sources' own options are validated up front: a bad one throws GBS_INVALID_OPTION naming the
// option and the value (before, a typo meant the default, and a NaN bound meant no bound).

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv.js';
import { ndjsonSource } from '../../src/sources/ndjson.js';
import { collect, ok } from './helpers.js';

const input = () => Readable.from([Buffer.from('{"a":1}\n')]);

const BAD: Array<[string, () => unknown, string, RegExp]> = [
  [
    'ndjson maxLineLength a string',
    () => ndjsonSource(input(), { maxLineLength: 'abc' as never }),
    'maxLineLength',
    /"abc"/,
  ],
  ['ndjson maxLineLength -1', () => ndjsonSource(input(), { maxLineLength: -1 }), 'maxLineLength', /-1/],
  ['ndjson maxLineLength 0', () => ndjsonSource(input(), { maxLineLength: 0 }), 'maxLineLength', /got 0/],
  ['ndjson maxLineLength 1.5', () => ndjsonSource(input(), { maxLineLength: 1.5 }), 'maxLineLength', /1\.5/],
  [
    'ndjson maxLineLength NaN',
    () => ndjsonSource(input(), { maxLineLength: Number.NaN }),
    'maxLineLength',
    /NaN|null/,
  ],
  [
    'ndjson invalidUtf8 typo',
    () => ndjsonSource(input(), { invalidUtf8: 'Error' as never }),
    'invalidUtf8',
    /"Error"/,
  ],
  [
    'ndjson unknown option',
    () => ndjsonSource(input(), { maxLineLenght: 5 } as never),
    'maxLineLenght',
    /maxLineLenght/,
  ],
  [
    'csv invalidUtf8 typo',
    () => csvSource(input(), { invalidUtf8: 'Error' as never }),
    'invalidUtf8',
    /"Error"/,
  ],
  ['csv maxRecordBytes 0', () => csvSource(input(), { maxRecordBytes: 0 }), 'maxRecordBytes', /got 0/],
  [
    'csv maxRecordBytes under 64 KiB',
    () => csvSource(input(), { maxRecordBytes: 100 }),
    'maxRecordBytes',
    /got 100/,
  ],
  [
    'csv maxRecordBytes a string',
    () => csvSource(input(), { maxRecordBytes: '1mb' as never }),
    'maxRecordBytes',
    /"1mb"/,
  ],
  ['csv on_record not a function', () => csvSource(input(), { on_record: 'x' as never }), 'on_record', /"x"/],
  [
    'csv max_record_size',
    () => csvSource(input(), { max_record_size: 100 } as never),
    'max_record_size',
    /maxRecordBytes/,
  ],
];

describe('source options', () => {
  it.each(BAD)('%s → GBS_INVALID_OPTION', (_name, call, option, value) => {
    let thrown: unknown;
    try {
      call();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'GBS_INVALID_OPTION', option });
    expect((thrown as Error).message).toContain(`\`${option}\``);
    expect((thrown as Error).message).toMatch(value);
  });

  it("csv-parse's own options still pass through", async () => {
    const source = csvSource(Readable.from([Buffer.from('a;b\n1;2\n')]), {
      delimiter: ';',
      maxRecordBytes: 65536,
    });
    expect(await collect(source)).toEqual([ok(2, { a: '1', b: '2' })]);
  });

  it('valid ndjson options are taken', async () => {
    const source = ndjsonSource(input(), { maxLineLength: 100, invalidUtf8: 'keep' });
    expect(await collect(source)).toEqual([ok(1, { a: 1 })]);
  });
});
