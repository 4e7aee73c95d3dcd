// Runs every script in examples/ as its users would (node --import tsx), against dist/ through the
// package's self-reference: each must exit 0 and print its `ok:` line; the demo must write 3000 rows.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJsonl } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts') && f !== 'demo.ts')
  .sort();

const run = promisify(execFile);

async function runScript(file: string, timeout: number) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      timeout,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return {
      code: err.code ?? err.signal ?? 'failed',
      stdout: String(err.stdout),
      stderr: String(err.stderr),
    };
  }
}

beforeAll(() => {
  if (
    !existsSync(join(root, 'dist', 'index.js')) ||
    !existsSync(join(root, 'dist', 'emulator', 'index.js'))
  ) {
    throw new Error('dist/ is missing: the examples import the built package; run `npm run build` first.');
  }
});

// Each script runs in its own process with its own emulator, so they can run side by side.
describe.concurrent('examples', () => {
  it('lists the examples', () => {
    expect(examples).toEqual(
      expect.arrayContaining([
        'csv-to-jsonl-structured.ts',
        'custom-source.ts',
        'lower-stages.ts',
        'ndjson-to-csv.ts',
      ]),
    );
  });

  for (const file of examples) {
    it(file, async () => {
      const { code, stdout, stderr } = await runScript(join('examples', file), 60_000);
      expect(code, `${file} failed:\n${stderr}`).toBe(0);
      expect(stdout.trimEnd().split('\n').at(-1)).toMatch(/^ok: /);
    }, 60_000);
  }

  it('demo.ts (npm run demo) answers all 3000 reviews', async () => {
    const { code, stdout, stderr } = await runScript(join('examples', 'demo.ts'), 90_000);
    expect(code, `demo failed:\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/succeeded\s+3000/);
    expect(stderr).toMatch(/PENDING/);
    expect(stderr).toMatch(/RUNNING/);
    expect(stderr).toMatch(/SUCCEEDED/);
    const records = readJsonl(join(root, 'out', 'reviews.out.jsonl'));
    expect(records).toHaveLength(3000);
    expect(records[0]).toMatchObject({ key: 'r00001', ok: true });
  }, 90_000);
});
