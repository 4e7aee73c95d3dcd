// Regression (audit): an --out path that cannot be written (`--out r.csv/x.jsonl`, r.csv a file)
// was found out only when the first result came, after the run's jobs were created and paid for:
// exit 3 with a raw EEXIST stack. `--state r.csv` (a file) gave the same raw stack and exit 3,
// where the README says a wrong state is bad usage. Both are now exit 2, before anything is sent.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, RUN_REVIEWS, reviews, standaloneEmulator, writeCsv } from '../cli/cli.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

function setup(): string {
  const dir = temp();
  writeCsv(dir, 'reviews.csv', reviews(4));
  writeFileSync(join(dir, 'r.csv'), 'a file\n');
  mkdirSync(join(dir, 'folder.jsonl'));
  return dir;
}

describe('gemini-batch run with an --out or --state it cannot use', () => {
  it.each([
    ['--out under a file', ['--out', 'r.csv/x.jsonl'], '--out r.csv/x.jsonl'],
    ['--out deeper under a file', ['--out', 'r.csv/a/b/x.jsonl'], '--out r.csv/a/b/x.jsonl'],
    ['--out a folder', ['--out', 'folder.jsonl'], '--out folder.jsonl is a folder'],
    ['--state a file', ['--state', 'r.csv'], '--state r.csv is a file'],
    ['--state under a file', ['--state', 'r.csv/st'], 'the state directory r.csv/st cannot be used'],
  ] as const)('%s: exit 2 with a message, and no job created', async (_name, flags, message) => {
    const dir = setup();
    const emu = await standaloneEmulator(dir);
    try {
      // Batch (one job per row) and online.
      for (const mode of [['--max-requests-per-job', '1'], ['--online']]) {
        const r = await cli([...RUN_REVIEWS, '--emulator-url', emu.url, ...mode, ...flags], dir);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(message);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      }
      // Not a call made: no upload, no job, no generateContent.
      const stats = await emu.stats();
      expect(stats.batchesCreated).toBe(0);
      expect(Object.keys(stats.calls).filter((route) => route !== 'emulator.stats')).toEqual([]);
      expect(existsSync(join(dir, '.gemini-batch'))).toBe(false);
    } finally {
      emu.child.kill();
    }
  });
});
