// Regression: an answer whose only text was empty ('' with finishReason STOP) came out as
// `ok: true, text: ''`: an empty success, which faults #8 rules out. It is GBS_EMPTY_RESPONSE now.

import { describe, expect, it } from 'vitest';
import { FAKE_MARKERS } from '../../src/emulator/index.js';
import { FAST } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { runOnline, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

const rows = [
  { id: 'a', text: 'a real question' },
  { id: 'b', text: `say nothing ${FAKE_MARKERS.emptyText}` },
];

function check(results: Array<{ key: string; ok: boolean; text?: string; error?: { code: string } }>) {
  expect(results.map((r) => [r.key, r.ok])).toEqual([
    ['a', true],
    ['b', false],
  ]);
  expect(results[0]?.text).toBeTruthy();
  expect(results[1]?.error).toMatchObject({ stage: 'request', code: 'GBS_EMPTY_RESPONSE' });
}

describe('an answer whose text is empty', () => {
  it('is an error record in a batch run, not an empty success', async () => {
    const emu = await start();
    const { results, summary } = await runRows(
      emu,
      rows,
      (row: { text: string }) => row.text,
      { stateDir: temp(), ...FAST },
      { key: (row: { id: string }) => row.id },
    );
    check(results);
    expect(summary).toMatchObject({ succeeded: 1, failed: 1, failedByCode: { GBS_EMPTY_RESPONSE: 1 } });
  });

  it('is an error record in an online run too', async () => {
    const emu = await start();
    const { results } = await runOnline(emu, rows, {});
    check(results);
  });
});
