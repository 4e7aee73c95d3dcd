// The reduced CI form of the kill test (`npm run soak` is the full one): the pipeline runs in a child
// process that is SIGKILLed at seeded random instants and rerun until it finishes; the output must
// equal an uninterrupted run's, every key once, and no job created twice. It spawns
// bin/gemini-batch.js (the emulator), which runs from dist/: `npm run build` first.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type KillOptions, killTest } from './kill-harness.js';

const ROOT = new URL('../..', import.meta.url).pathname;

const CASES: Array<Required<Pick<KillOptions, 'seed' | 'faultRate'>> & { label: string }> = [
  { seed: 1, faultRate: 0, label: 'no faults' },
  { seed: 2, faultRate: 0, label: 'no faults' },
  { seed: 1001, faultRate: 0.03, label: 'random API faults at 3 %' },
];

describe.concurrent('kill test (reduced)', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js')))
      throw new Error('dist/ is missing: run `npm run build` before the kill test');
  });

  it.each(CASES)(
    'seed $seed, $label: killed and rerun, the output equals an uninterrupted run, no job created twice',
    async ({ seed, faultRate }) => {
      const started = Date.now();
      const report = await killTest({ seed, rows: 3000, perJob: 500, faultRate });
      const replay = `npm run soak -- --seed ${seed}${faultRate ? ` --fault-rate ${faultRate}` : ''} --rows 3000 --per-job 500 --keep`;
      const head = `seed ${seed}${faultRate ? ` faults ${faultRate}` : ''}: ${report.runs} runs, ${report.kills} kills, ${report.chunks} chunks, ${report.jobsCreated} jobs (${((Date.now() - started) / 1000).toFixed(1)} s)`;
      console.log(
        report.problems.length
          ? `FAIL ${head}; state kept in ${report.dir}; replay: ${replay}`
          : `ok ${head}`,
      );
      expect(report.problems, `seed ${seed} (replay: ${replay})`).toEqual([]);
      expect(report.chunks, `seed ${seed}`).toBe(6);
      if (!faultRate) expect(report.jobsCreated, `seed ${seed}`).toBe(6);
    },
    120_000,
  );
});
