// Regression: a chunk's later job answered a key only an earlier job of the chunk was sent (a
// misattributed answer, python-genai #1909). The answer index looked keys up among all the chunk's
// rows, so that line replaced the earlier job's answer silently: no warning, every anomaly count 0.
// A result line counts only for keys its own job was sent; others are unknown keys (fault #10).

import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { toRestRequest } from '../../src/index.js';
import { fired, jobsByChunk, runScenario, warnings } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

const answerOf = (text: string) => fakeAnswerText(toRestRequest(text));

describe('an answer in a later job for a key only an earlier job was sent', () => {
  it('is an unknown key with a warning: the first job’s answer stands', async () => {
    const emu = await start({
      faults: {
        jobs: [
          // The first job leaves out every 3rd key (id-00002, id-00005): a second job is sent them…
          { displayName: '-c0-a1-', effect: { type: 'dropKeys', every: 3 } },
          // …and also answers id-00000 and id-00004, which the first job answered.
          { displayName: '-c0-a2-', effect: { type: 'foreignKeys', keys: ['id-00000', 'id-00004'] } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxJobAttempts: 2 },
      { maxJobsPerChunk: 2 },
    );
    expect(fired(emu, 'dropKeys')).toBe(1);
    expect(fired(emu, 'foreignKeys')).toBe(1);
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.requestCount]));
    expect(
      jobsByChunk(emu, stateDir)
        .get(0)
        ?.map((j) => byName.get(j.name)),
    ).toEqual([6, 2]);
    for (const [i, r] of results.entries()) {
      // Every row has the answer to its own prompt: none has the second job's foreign line.
      expect(r, `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
      expect(r.text).not.toContain('which this job was not sent');
    }
    const unknown = warnings(events, 'UNKNOWN_KEYS');
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ chunk: 0 });
    expect(unknown[0]?.message).toMatch(/^2 /);
    expect(summary?.anomalies).toEqual({ unknownKeys: 2, duplicateKeys: 0, malformedLines: 0 });
  });

  it('for a row whose request was never sent: unknown too, so a key the job left out still goes to a second job', async () => {
    // Row 1 has an empty prompt: an error record, its request never sent. The first job answers its
    // key anyway and leaves out its 5th request (id-00005). Counted as an answer, the stray line hid
    // the missing one (as many unanswered rows as never-sent rows): no second job, a missing result.
    const emu = await start({
      faults: {
        jobs: [
          {
            displayName: '-c0-a1-',
            effect: [
              { type: 'dropKeys', every: 5 },
              { type: 'foreignKeys', keys: ['id-00001'] },
            ],
          },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(6, (i) => (i === 1 ? '' : `prompt number ${i}`));
    const { results, events, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxJobAttempts: 2 },
      { maxJobsPerChunk: 2 },
    );
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.requestCount]));
    expect(
      jobsByChunk(emu, stateDir)
        .get(0)
        ?.map((j) => byName.get(j.name)),
    ).toEqual([5, 1]);
    expect(results[1]).toMatchObject({ ok: false, error: { stage: 'build' } });
    expect(results[1]?.text).toBeUndefined();
    for (const i of [0, 2, 3, 4, 5]) {
      expect(results[i], `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
    }
    expect(warnings(events, 'UNKNOWN_KEYS')).toHaveLength(1);
    expect(summary?.anomalies).toEqual({ unknownKeys: 1, duplicateKeys: 0, malformedLines: 0 });
  });
});
