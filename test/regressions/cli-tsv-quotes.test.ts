// Regression (audit): `--format tsv` read TSV with CSV's quote rules, so a field that starts with a
// quote (`"Great" product`) or holds one (`5" screen`) merged the rows after it into error records:
// 5 rows in, 3 GBS_INPUT_PARSE records out, rows 2, 3 and 5 never sent. TSV has no quoting (IANA
// text/tab-separated-values: a field holds no tab or newline): every line is one row.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, events } from '../cli/cli.js';
import { parseJsonl, tempDirs } from '../helpers.js';

const temp = tempDirs();

const REVIEWS = ['"Great" product, loved it', 'fine', 'ok', '5" screen is small', 'nice'];

function writeTsv(dir: string, name: string): string {
  const lines = ['id\treview', ...REVIEWS.map((review, i) => `${i + 1}\t${review}`)];
  writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  return name;
}

describe('gemini-batch with TSV input', () => {
  it('reads quotes as characters: 5 lines, 5 rows, all sent', async () => {
    const dir = temp();
    // Without the .tsv extension, too: --format tsv says how to read it.
    for (const [name, format] of [
      ['reviews.tsv', []],
      ['reviews.txt', ['--format', 'tsv']],
    ] as const) {
      writeTsv(dir, name);
      const out = `${name}.out.jsonl`;
      const args = ['--input', name, ...format, '--prompt', 'Classify: {{review}}', '--key', 'id'];
      const r = await cli(['run', ...args, '--emulator', '--out', out, '--json'], dir);
      expect(r.code).toBe(0);
      const summary = events(r.stdout).find((e) => e.type === 'summary')?.summary;
      expect(summary).toMatchObject({ rows: 5, succeeded: 5, failed: 0, jobsCreated: 1 });
      const results = parseJsonl(readFileSync(join(dir, out), 'utf8'));
      expect(results.map((x) => x.row)).toEqual(REVIEWS.map((review, i) => ({ id: String(i + 1), review })));
      expect(results.every((x) => x.ok && x.text.endsWith(`Classify: ${x.row.review}`))).toBe(true);

      const estimate = await cli(['estimate', ...args, '--json'], dir);
      expect(estimate.code).toBe(0);
      expect(JSON.parse(estimate.stdout)).toMatchObject({ rows: 5, sendable: 5, unsendable: 0 });
    }
  });
});
