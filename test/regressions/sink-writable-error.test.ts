// Regression: a sink given a Writable resolved the pipeline although the stream then failed to
// write (a full disk): the error came after, and was swallowed. The pipeline now waits for the
// stream to have written what it was given, and fails with its error.

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { csvSink, jsonlSink } from '../../src/index.js';

const results = [
  { key: 'a', row: { id: 'a' }, ok: true, text: 'yes' },
  { key: 'b', row: { id: 'b' }, ok: true, text: 'no' },
];

describe.skipIf(process.platform !== 'linux')(
  'a sink whose Writable fails after taking the text (/dev/full)',
  () => {
    it.each([
      ['jsonlSink', jsonlSink],
      ['csvSink', csvSink],
    ] as const)('%s: the pipeline rejects with the stream error', async (_name, sink) => {
      const out = createWriteStream('/dev/full');
      await expect(pipeline(Readable.from(results), sink(out))).rejects.toMatchObject({ code: 'ENOSPC' });
    });
  },
);
