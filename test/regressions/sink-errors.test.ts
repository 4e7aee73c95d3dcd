// Regressions: a sink whose file cannot be written crashed the process with an unhandled 'error'
// instead of failing the pipeline; one whose file could not be opened failed only at the first
// result (after a batch stage: once its jobs had run and been paid for).

import { mkdirSync, writeFileSync } from 'node:fs';
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

describe('sinks that cannot open their file', () => {
  it.each([
    ['jsonlSink', jsonlSink],
    ['csvSink', csvSink],
  ] as const)('%s fails the pipeline at once, before any result comes', async (_name, sink) => {
    const dir = temp();
    writeFileSync(join(dir, 'a-file'), 'x');
    mkdirSync(join(dir, 'a-folder.jsonl'));
    for (const path of [join(dir, 'a-file', 'out.jsonl'), join(dir, 'a-folder.jsonl')]) {
      // A source that never yields: a stage upstream still at work (a batch job running).
      const never = new Readable({ objectMode: true, read() {} });
      const waited = new Promise((resolve) => setTimeout(resolve, 2000, 'still waiting'));
      const outcome = await Promise.race([
        pipeline(never, sink(path)).then(
          () => 'resolved',
          (err: NodeJS.ErrnoException) => err.code,
        ),
        waited,
      ]);
      expect(outcome).toMatch(/^E(EXIST|NOTDIR|ISDIR)$/);
      expect(never.destroyed).toBe(true);
    }
  });
});
