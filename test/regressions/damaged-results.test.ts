// Regression: a result line cut short that lost its newline runs into the next line, which still
// ends with the next key. That key was indexed to the damaged line, and the join's JSON.parse threw
// a raw SyntaxError on every run and every rerun (the chunk was settled with that file on disk).

import { describe, expect, it } from 'vitest';
import { byId, FAST, prompt } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('a damaged result line', () => {
  it('becomes an error record for the key it swallowed; the run and its rerun complete', async () => {
    const emu = await start({
      faults: { jobs: [{ nth: 1, effect: { type: 'malformed', every: 4, joinNext: true } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(12);
    const first = await runRows(emu, rows, prompt, { stateDir, ...FAST }, byId);
    expect(first.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    const damaged = first.results.filter((r) => !r.ok);
    expect(damaged.length).toBeGreaterThan(0);
    for (const r of damaged) {
      expect(r.error).toMatchObject({ stage: 'job', code: 'GBS_RESULT_MISSING' });
      expect(r.error?.message).toContain('damaged (not JSON)');
    }
    // The lines cut short lost their own keys: those went to a second job and were answered.
    expect(emu.stats().batchesCreated).toBe(2);
    expect(first.results.filter((r) => r.ok).length).toBe(rows.length - damaged.length);

    const again = await runRows(emu, rows, prompt, { stateDir, ...FAST }, byId);
    expect(again.results).toEqual(first.results);
    expect(emu.stats().batchesCreated).toBe(2);
  });
});
