// Regression (audit): `run --input link.csv --out orig.csv`, with link.csv a symlink to orig.csv,
// exited 0 and replaced orig.csv with the results: --out was compared with the input by resolved
// path only. It is now refused (exit 2) before anything is sent, whatever name the input goes by.

import { existsSync, linkSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, reviews, writeCsv } from '../cli/cli.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

const run = (input: string, out: string, dir: string) =>
  cli(['run', '--input', input, '--out', out, '--prompt', 'x {{review}}', '--emulator'], dir);

describe('gemini-batch run --out naming the input', () => {
  it.each([
    [
      'the input is a symlink to --out',
      (dir: string) => symlinkSync('orig.csv', join(dir, 'link.csv')),
      'link.csv',
      'orig.csv',
    ],
    [
      '--out is a symlink to the input',
      (dir: string) => symlinkSync('orig.csv', join(dir, 'link.csv')),
      'orig.csv',
      'link.csv',
    ],
    [
      '--out is a hard link to the input',
      (dir: string) => linkSync(join(dir, 'orig.csv'), join(dir, 'hard.csv')),
      'orig.csv',
      'hard.csv',
    ],
    [
      '--out goes through a symlinked folder',
      (dir: string) => symlinkSync('.', join(dir, 'here')),
      'orig.csv',
      'here/orig.csv',
    ],
  ] as const)('exits 2 and leaves the input as it was when %s', async (_name, link, input, out) => {
    const dir = temp();
    writeCsv(dir, 'orig.csv', reviews(3));
    const before = readFileSync(join(dir, 'orig.csv'), 'utf8');
    link(dir);
    const r = await run(input, out, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out ${out} is the input file`);
    expect(readFileSync(join(dir, 'orig.csv'), 'utf8')).toBe(before);
    expect(existsSync(join(dir, '.gemini-batch'))).toBe(false); // refused before the state was made
  });

  it('still writes an output of the same name in another folder', async () => {
    const dir = temp();
    writeCsv(dir, 'orig.csv', reviews(3));
    mkdirSync(join(dir, 'out'));
    const r = await run('orig.csv', 'out/orig.csv', dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'out/orig.csv'), 'utf8')).toContain('echo');
  });
});
