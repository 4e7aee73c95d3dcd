// Regression: a multi-line CSV record with two errors gave two error records (one input row, two
// results: I1) and the row after it a wrong line: duplicates were told by the line of the error,
// which moves within a multi-line record, and the record was taken to end where the error was raised.

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv.js';
import { bad, collect, ok } from '../sources/helpers.js';

const read = (text: string) => collect(csvSource(Readable.from([Buffer.from(text)])));

describe('csvSource: one error record per record, the next row on its own line', () => {
  it('two errors in a multi-line record: one error record', async () => {
    expect(await read('id,t\n1,a"b,"multi\nline"\n2,ok\n')).toEqual([
      bad(2, /Invalid Opening Quote.*spans lines 2–3/),
      ok(4, { id: '2', t: 'ok' }),
    ]);
  });

  it('one error in a multi-line record: the row after it is on line 4', async () => {
    expect(await read('id,t,u\n1,a"b,"multi\nline"\n2,ok,x\n')).toEqual([
      bad(2, /Invalid Opening Quote.*spans lines 2–3/),
      ok(4, { id: '2', t: 'ok', u: 'x' }),
    ]);
  });

  it('a stray quote in an unquoted field, several of them on one line: one error record', async () => {
    expect(await read('id,t\n1,a"b"c"d\n2,ok\n')).toEqual([
      bad(2, /Invalid Opening Quote/),
      ok(3, { id: '2', t: 'ok' }),
    ]);
  });
});
