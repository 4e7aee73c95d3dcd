// Regression: csvSource(p, { columns: true }) skipped the duplicate-header check, so
// `id,text,text` kept the last `text` only and lost the other column's values without a word.

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv.js';
import { collect } from '../sources/helpers.js';

describe('csvSource: columns: true', () => {
  it('a header naming a column twice stops the source, as with columns unset', async () => {
    await expect(
      collect(csvSource(Readable.from([Buffer.from('id,text,text\n1,a,b\n')]), { columns: true })),
    ).rejects.toMatchObject({
      code: 'GBS_INPUT_PARSE',
      line: 1,
      message: expect.stringMatching(/"text" twice/),
    });
  });
});
