// Regression: a valid row holding a real U+FFFD became a false "not valid UTF-8" error record when
// the record before it had invalid bytes and never reached the output (a ragged row skipped, a row
// dropped by on_record, the header): the start of the next record's bytes was not moved past it.

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type CsvSourceOptions, csvSource } from '../../src/sources/csv.js';
import { bad, bytes, collect, ok } from '../sources/helpers.js';

const FFFD = '\uFFFD';
const read = (chunks: Buffer[], options?: CsvSourceOptions) =>
  collect(csvSource(Readable.from([Buffer.concat(chunks)]), options));

describe('csvSource: a real U+FFFD after a record with invalid bytes that was not pushed', () => {
  it('after a skipped ragged row', async () => {
    expect(await read(bytes('id,t\n1,a,', [0xff], `\n2,real ${FFFD}\n`))).toEqual([
      bad(2, /Invalid Record Length/),
      ok(3, { id: '2', t: `real ${FFFD}` }),
    ]);
  });

  it('after a header with invalid bytes', async () => {
    expect(await read(bytes('id,t', [0xff], `\n1,real ${FFFD}\n`))).toEqual([
      ok(2, { id: '1', [`t${FFFD}`]: `real ${FFFD}` }),
    ]);
  });

  it('after a row dropped by on_record', async () => {
    const on_record = (r: Record<string, unknown>) => (r.id === '1' ? null : r);
    expect(await read(bytes('id,t\n1,', [0xff], `\n2,real ${FFFD}\n`), { on_record })).toEqual([
      ok(3, { id: '2', t: `real ${FFFD}` }),
    ]);
  });
});
