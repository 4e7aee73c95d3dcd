// Regressions found by a review of the job lifecycle (src/stages/job-attempt.ts):
// - a SUCCEEDED job whose Operation carried no results yet was taken for "nothing answered", and
//   every key was sent (and billed) again;
// - when the cancel at jobDeadlineMs failed, no later run cancelled the job (it waited for 48 h);
// - a job recorded as created that the API no longer knows (404) failed every rerun the same way;
// - an abort while polling rejected with the timer's AbortError instead of the abort's reason.

import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/index.js';
import { byId, chunkStates, FAST, prompt, warnings } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('job lifecycle', () => {
  it('waits for the results of a job that SUCCEEDED before they were attached, instead of sending its keys again', async () => {
    const emu = await start({ faults: { jobs: [{ nth: 1, effect: { type: 'outputMissing', ms: 150 } }] } });
    const rows = rowsOf(10);
    const { results, events } = await runRows(emu, rows, prompt, { stateDir: temp(), ...FAST }, byId);
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(emu.stats().batchesCreated).toBe(1);
    expect(warnings(events, 'OUTPUT_NOT_READY')).toHaveLength(1);
  });

  it('cancels a job past its deadline on the rerun when the first run could not', async () => {
    const emu = await start({
      faults: {
        jobs: [{ nth: 1, effect: { type: 'stuck' } }],
        http: [{ route: 'batches.cancel', times: 100, nth: 1, action: { type: 'error', status: 503 } }],
      },
    });
    const stateDir = temp();
    const options = { stateDir, ...FAST, jobDeadlineMs: 100 };
    const first = await runRows(emu, rowsOf(5), prompt, options, byId).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'GBS_API_ERROR' });
    expect(emu.stats().batches.map((b) => b.state)).toEqual(['BATCH_STATE_PENDING']);
    expect(chunkStates(stateDir)[0]?.attempts[0]?.deadline).toBe(true);

    emu.setFaults({}); // the stuck job keeps its fault; the cancel works again
    const { results } = await runRows(emu, rowsOf(5), prompt, options, byId);
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    const states = emu.stats().batches.map((b) => b.state);
    expect(states).toContain('BATCH_STATE_CANCELLED');
    expect(states).toContain('BATCH_STATE_SUCCEEDED');
  });

  it('sends the keys of a job that no longer exists (404) to a new job instead of failing every rerun', async () => {
    const emu = await start({ faults: { jobs: [{ nth: 1, effect: { type: 'stuck' } }] } });
    const ai = new GoogleGenAI(emu.clientOptions());
    const stateDir = temp();
    const controller = new AbortController();
    const first = runRows(
      emu,
      rowsOf(5),
      prompt,
      {
        stateDir,
        ...FAST,
        signal: controller.signal,
        onProgress: (e: ProgressEvent) => {
          if (e.type === 'job-created') controller.abort(new Error('stop here'));
        },
      },
      byId,
    );
    await expect(first).rejects.toThrow('stop here');
    const [job] = emu.stats().batches;
    await ai.batches.delete({ name: job?.name as string });
    await expect(ai.batches.get({ name: job?.name as string })).rejects.toMatchObject({ status: 404 });

    const { results, events } = await runRows(emu, rowsOf(5), prompt, { stateDir, ...FAST }, byId);
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(warnings(events, 'JOB_GONE')).toHaveLength(1);
    // Gone is not "ended early": the job never ended, there is nothing of it to count.
    expect(warnings(events, 'JOB_ENDED_EARLY')).toEqual([]);
    expect(emu.stats().batchesCreated).toBe(2);
  });

  it('rejects with the abort reason when aborted while polling', async () => {
    const emu = await start({ faults: { jobs: [{ effect: { type: 'stuck' } }] } });
    const controller = new AbortController();
    const reason = new Error('user abort reason');
    const run = runRows(
      emu,
      rowsOf(3),
      prompt,
      {
        stateDir: temp(),
        ...FAST,
        signal: controller.signal,
        onProgress: (e: ProgressEvent) => {
          if (e.type === 'job-state') controller.abort(reason);
        },
      },
      byId,
    );
    await expect(run).rejects.toBe(reason);
  });
});
