// A U+FFFD written as valid UTF-8 is a character, not invalid bytes: csvSource and ndjsonSource keep
// records holding one, and still turn records with invalid bytes into error records, whatever
// chunk boundaries cut the characters.

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv.js';
import { ndjsonSource } from '../../src/sources/ndjson.js';
import { ROW_ERROR, rowLine } from '../../src/types.js';

const FFFD = '\uFFFD';

/** `bytes` as a Readable of pieces of `size` bytes (1: every multi-byte character cut apart). */
function chunked(bytes: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return Readable.from(pieces, { objectMode: false });
}

/** Each row as `line: value` or `line: error`. */
async function read(
  source: AsyncIterable<Record<string | symbol, unknown>>,
  field: string,
): Promise<string[]> {
  const out: string[] = [];
  for await (const row of source) {
    out.push(`${rowLine(row as never)}: ${row[ROW_ERROR] ? 'error' : String(row[field])}`);
  }
  return out;
}

const SIZES = [1, 2, 3, 5, 64 * 1024];

describe.each(SIZES)('in pieces of %i bytes', (size) => {
  it('csvSource keeps a real U+FFFD beside other multi-byte characters', async () => {
    const text = `name\ncafé ${FFFD} 你好 😀\n"a ${FFFD}${FFFD}"\nplain\n`;
    expect(await read(csvSource(chunked(Buffer.from(text), size)), 'name')).toEqual([
      `2: café ${FFFD} 你好 😀`,
      `3: a ${FFFD}${FFFD}`,
      '4: plain',
    ]);
  });

  it('csvSource: exactly the records with invalid bytes are error records; a U+FFFD around them is kept', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`name,note\nreal ${FFFD},x\n`),
      Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in latin1
      Buffer.from(`,${FFFD}\n"two\nlines ${FFFD}",y\n"bad\n`),
      Buffer.from([0xe4, 0x41]), // a lead byte without its continuation bytes
      Buffer.from(`",z\nafter ${FFFD},${FFFD}\n`),
    ]);
    expect(await read(csvSource(chunked(bytes, size)), 'name')).toEqual([
      `2: real ${FFFD}`,
      '3: error',
      `4: two\nlines ${FFFD}`,
      '6: error',
      `8: after ${FFFD}`,
    ]);
  });

  it('csvSource: a sequence cut short at the end of the input is invalid', async () => {
    const bytes = Buffer.concat([Buffer.from('name\nok\nx'), Buffer.from([0xe4, 0xbd])]);
    expect(await read(csvSource(chunked(bytes, size)), 'name')).toEqual(['2: ok', '3: error']);
  });

  it('ndjsonSource keeps a real U+FFFD and flags exactly the lines with invalid bytes', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`{"t":"café ${FFFD} 你好 😀"}\n`),
      Buffer.from('{"t":"caf'),
      Buffer.from([0xe9]),
      Buffer.from(`"}\n{"t":"after ${FFFD}"}\n`),
    ]);
    expect(await read(ndjsonSource(chunked(bytes, size)), 't')).toEqual([
      `1: café ${FFFD} 你好 😀`,
      '2: error',
      `3: after ${FFFD}`,
    ]);
  });
});

it("csvSource with invalidUtf8: 'keep' passes invalid bytes on as U+FFFD", async () => {
  const bytes = Buffer.concat([Buffer.from('name\n'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])]);
  expect(await read(csvSource(chunked(bytes, 2), { invalidUtf8: 'keep' }), 'name')).toEqual([
    `2: caf${FFFD}`,
  ]);
});

it("csvSource with encoding: 'utf-8' (spelled with a dash) tells a real U+FFFD from invalid bytes too", async () => {
  const bytes = Buffer.concat([Buffer.from(`name\nreal ${FFFD}\n`), Buffer.from([0xe9, 0x0a])]);
  expect(await read(csvSource(chunked(bytes, 3), { encoding: 'utf-8' }), 'name')).toEqual([
    `2: real ${FFFD}`,
    '3: error',
  ]);
});
