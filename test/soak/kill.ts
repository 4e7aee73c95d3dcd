// `npm run soak`: the kill test over many seeds (the full run: 20 seeds of 20 000 rows), then the
// randomized test (seeded API faults plus random kills). Prints each seed; a failing seed replays
// with `npm run soak -- --seed N [--fault-rate R]`.
//
//   npm run soak                        # 20 seeds, 20 000 rows, then 5 seeds with faults
//   npm run soak -- --seeds 3 --rows 5000
//   npm run soak -- --seed 7 --fault-rate 0.05 --keep

import { parseArgs } from 'node:util';
import { killTest } from './kill-harness.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '20' },
    'fault-seeds': { type: 'string', default: '5' },
    rows: { type: 'string', default: '20000' },
    'per-job': { type: 'string', default: '2000' },
    seed: { type: 'string' },
    'fault-rate': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const rows = Number(values.rows);
const perJob = Number(values['per-job']);
const plan: Array<{ seed: number; faultRate: number }> = [];
if (values.seed !== undefined)
  plan.push({ seed: Number(values.seed), faultRate: Number(values['fault-rate'] ?? 0) });
else {
  for (let s = 1; s <= Number(values.seeds); s++) plan.push({ seed: s, faultRate: 0 });
  for (let s = 1; s <= Number(values['fault-seeds']); s++)
    plan.push({ seed: 1000 + s, faultRate: Number(values['fault-rate'] ?? 0.03) });
}

let failed = 0;
for (const { seed, faultRate } of plan) {
  const started = Date.now();
  const r = await killTest({ seed, rows, perJob, faultRate, keep: values.keep });
  const head = `seed ${seed}${faultRate ? ` faults ${faultRate}` : ''}: ${r.runs} runs, ${r.kills} kills, ${r.chunks} chunks, ${r.jobsCreated} jobs (${((Date.now() - started) / 1000).toFixed(1)} s)`;
  if (r.problems.length) {
    failed++;
    console.log(
      `FAIL ${head}\n  ${r.problems.join('\n  ')}\n  state kept in ${r.dir}; replay: npm run soak -- --seed ${seed}${faultRate ? ` --fault-rate ${faultRate}` : ''} --keep`,
    );
  } else console.log(`ok   ${head}`);
}
console.log(failed ? `${failed} of ${plan.length} seeds failed` : `all ${plan.length} seeds passed`);
process.exitCode = failed ? 1 : 0;
