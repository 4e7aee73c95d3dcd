// Regression: with `ordered: true`, chunks that finished behind a slow first chunk kept their answer
// index in memory until their turn (about 21 bytes a row: 200 MB for 10 M rows waiting behind a job
// stuck for a day). They now wait on disk; the join indexes their answers again. This checks that
// path gives the same output.

import { GoogleGenAI } from '@google/genai';
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
    const emu = await start({ faults: { jobs: [{ displayName: '-c0-a1-', effect: { type: 'stuck' } }] } });
    const ai = new GoogleGenAI(emu.clientOptions());
    const rows = rowsOf(20);
    // Chunk 0's first job stays PENDING until chunks 1–3 are on disk; then it is cancelled from
    // outside, and its keys go to a second job.
    let downloads = 0;
    let stuckJob: string | undefined;
    let cancelled: Promise<unknown> | undefined;
    const { results, events } = await runRows(
      emu,
      rows,
      prompt,
      {
        stateDir: temp(),
        ...FAST,
        maxRequestsPerJob: 5,
        onProgress: (e) => {
          if (e.type === 'job-created' && e.chunk === 0) stuckJob ??= e.job;
          if (e.type === 'downloaded' && e.chunk > 0 && ++downloads === 3 && stuckJob)
            cancelled = ai.batches.cancel({ name: stuckJob });
        },
      },
      byId,
    );
    await cancelled;
    expect(cancelled).toBeDefined();
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.text).toBe(fakeAnswerText(toRestRequest(r.row.text)));
    }
    // Chunks 1–3 were downloaded while chunk 0 waited.
    const order = events.filter((e) => e.type === 'downloaded' || e.type === 'chunk-emitted');
    const firstEmit = order.findIndex((e) => e.type === 'chunk-emitted');
    const downloadedBefore = order.slice(0, firstEmit).filter((e) => e.type === 'downloaded' && e.chunk > 0);
    expect(downloadedBefore.length).toBe(3);
    expect(order[firstEmit]).toMatchObject({ type: 'chunk-emitted', chunk: 0 });
  });
});
