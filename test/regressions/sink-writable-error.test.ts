// Regression: a sink given a Writable resolved the pipeline although the stream then failed to
// write (a full disk): the error came after, and was swallowed. The pipeline now waits for the
// stream to have written what it was given, and fails with its error.

import { createWriteStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
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

describe('a sink whose Writable is closed or in object mode', () => {
  it.each([
    ['jsonlSink', jsonlSink],
    ['csvSink', csvSink],
  ] as const)(
    '%s: a stream destroyed before the end fails the pipeline instead of hanging',
    async (_name, sink) => {
      const out = new Writable({ write: (_c, _e, cb) => cb() });
      out.destroy();
      await expect(pipeline(Readable.from(results), sink(out))).rejects.toThrow(/closed|destroyed/);
    },
  );

  it('an object-mode stream gets the text and no empty chunk', async () => {
    const chunks: unknown[] = [];
    const out = new Writable({
      objectMode: true,
      write: (chunk, _e, cb) => {
        chunks.push(chunk);
        cb();
      },
    });
    await pipeline(Readable.from(results), jsonlSink(out));
    expect(chunks.join('')).toBe(results.map((r) => `${JSON.stringify(r)}\n`).join(''));
    expect(chunks).not.toContain('');
  });
});
