// Regression: a row JSON cannot hold (a BigInt column, as database drivers return for int8) came out
// as a GBS_ROW_INVALID record, but its request had already been written to the job's input file:
// sent and billed, then its answer thrown away.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAST } from '../faults/invariants.js';
import { emulators, readJsonl, tempDirs } from '../helpers.js';
import { runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('a row that cannot be stored as JSON', () => {
  it('is an error record whose request is never sent', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = [
      { id: 'a', n: 1n },
      { id: 'b', n: 2 },
      { id: 'c', n: 3n },
    ];
    const { results } = await runRows(
      emu,
      rows,
      (row: { n: unknown }) => `number ${String(row.n)}`,
      { stateDir, ...FAST },
      { key: (row: { id: string }) => row.id },
    );
    expect(results.map((r) => [r.key, r.ok, r.error?.code])).toEqual([
      ['a', false, 'GBS_ROW_INVALID'],
      ['b', true, undefined],
      ['c', false, 'GBS_ROW_INVALID'],
    ]);
    expect(results[0]?.error?.message).toContain('cannot be stored as JSON');
    const sent = readJsonl<{ key: string }>(join(stateDir, 'chunks', '000000', 'requests.jsonl'));
    expect(sent.map((r) => r.key)).toEqual(['b']);
    expect(emu.stats().batches[0]?.requestCount).toBe(1);
  });
});
