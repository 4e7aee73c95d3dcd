// Regression: with `ordered: true`, chunks that finished behind a slow first chunk kept their answer
// index in memory until their turn (about 21 bytes a row: 200 MB for 10 M rows waiting behind a job
// stuck for a day). They now wait on disk; the join indexes their answers again. This checks that
// path gives the same output.

import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { toRestRequest } from '../../src/index.js';
import { byId, FAST, prompt } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('ordered output behind a slow chunk', () => {
  it('joins the chunks that finished first, from disk, in input order', async () => {
    const emu = await start({ faults: { jobs: [{ nth: 1, effect: { type: 'stuck' } }] } });
    const rows = rowsOf(20);
    const { results, events } = await runRows(
      emu,
      rows,
      prompt,
      { stateDir: temp(), ...FAST, maxRequestsPerJob: 5, jobDeadlineMs: 300 },
      byId,
    );
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.text).toBe(fakeAnswerText(toRestRequest(r.row.text)));
    }
    // Chunks 1–3 were downloaded while chunk 0 waited for its deadline and second job.
    const order = events.filter((e) => e.type === 'downloaded' || e.type === 'chunk-emitted');
    const firstEmit = order.findIndex((e) => e.type === 'chunk-emitted');
    const downloadedBefore = order.slice(0, firstEmit).filter((e) => e.type === 'downloaded' && e.chunk > 0);
    expect(downloadedBefore.length).toBe(3);
    expect(order[firstEmit]).toMatchObject({ type: 'chunk-emitted', chunk: 0 });
  });
});
