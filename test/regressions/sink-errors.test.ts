// Regression: a sink whose file cannot be written crashed the process with an unhandled 'error'
// instead of failing the pipeline.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { csvSink, jsonlSink } from '../../src/index.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

describe('sinks that cannot write', () => {
  it.each([
    ['jsonlSink', jsonlSink],
    ['csvSink', csvSink],
  ] as const)('%s rejects the pipeline when the output path is unusable', async (_name, sink) => {
    const blocker = join(temp(), 'a-file');
    writeFileSync(blocker, 'x');
    // A directory cannot be created under a regular file.
    await expect(
      pipeline(Readable.from([{ key: 'a', row: { a: 1 }, ok: true }]), sink(join(blocker, 'out.txt'))),
    ).rejects.toThrow();
  });
});
