// Fault scenarios 5, 6, 16 and 17 of gemini-batch-faults.md: jobs that end FAILED / CANCELLED /
// EXPIRED, stay PENDING, are cancelled from outside while running, or report a state the API does
// not define.

import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { GbsError, type ProgressEvent, toRestRequest } from '../../src/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';
import { byId, chunkStates, FAST, fired, jobsByChunk, prompt, runScenario, warnings } from './invariants.js';

const start = emulators();
const temp = tempDirs();

const answerOf = (text: string) => fakeAnswerText(toRestRequest(text));
type JobState = Extract<ProgressEvent, { type: 'job-state' }>;
const jobStates = (events: ProgressEvent[]) => events.filter((e): e is JobState => e.type === 'job-state');

describe('fault scenarios: job states', () => {
  it('#5 a job ends FAILED / CANCELLED / EXPIRED part-way: its answers are kept, only the missing keys go to a new job, and after maxJobAttempts they become GBS_JOB_FAILED records with the state', async () => {
    for (const state of ['FAILED', 'CANCELLED', 'EXPIRED'] as const) {
      // Every job stops after half of its requests.
      const emu = await start({ faults: { jobs: [{ effect: { type: 'end', state, after: 0.5 } }] } });
      const stateDir = temp();
      const rows = rowsOf(8);
      const { results, events, summary } = await runScenario(
        emu,
        rows,
        { stateDir, maxJobAttempts: 3 },
        { maxJobsPerChunk: 3 },
      );
      expect(fired(emu, 'end'), state).toBe(3);
      // Each new job holds only what the one before left unanswered: 8, then 4, then 2.
      expect(
        emu.stats().batches.map((b) => b.requestCount),
        state,
      ).toEqual([8, 4, 2]);
      expect(emu.stats().batches.every((b) => b.state === `BATCH_STATE_${state}`)).toBe(true);
      expect(warnings(events, 'RESUBMIT'), state).toHaveLength(2);
      // Each job's end is reported with what it had processed (and may have billed): 4 of 8, 2 of 4, 1 of 2.
      expect(
        warnings(events, 'JOB_ENDED_EARLY').map((e) => e.message.replace(/^job \S+ /, '')),
        state,
      ).toEqual(
        [
          [4, 8],
          [2, 4],
          [1, 2],
        ].map(
          ([done, all]) =>
            `ended JOB_STATE_${state}: ${done} of ${all} requests processed (possibly billed); whatever answers it has are kept`,
        ),
      );
      // The partial answers are kept: 4 + 2 + 1 rows answered, each with its own answer.
      for (const [i, r] of results.slice(0, 7).entries()) {
        expect(r, `${state} row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
      }
      // The last key was never answered: one error record carrying the last job's state.
      expect(results[7], state).toMatchObject({
        key: rows[7]?.id,
        ok: false,
        error: { stage: 'job', code: 'GBS_JOB_FAILED', reason: `BATCH_STATE_${state}` },
      });
      expect(results[7]?.error?.message, state).toContain(`JOB_STATE_${state}`);
      expect(summary, state).toMatchObject({ succeeded: 7, failed: 1, failedByCode: { GBS_JOB_FAILED: 1 } });
    }
  });

  it('#6 a job stuck PENDING: past jobDeadlineMs it is cancelled and its keys resubmitted (then GBS_JOB_DEADLINE records), or the run stops with GbsError GBS_JOB_DEADLINE', async () => {
    // Chunk 0's first job and every job of chunk 1 never leave PENDING.
    const emu = await start({
      faults: {
        jobs: [
          { displayName: '-c0-a1-', effect: { type: 'stuck' } },
          { displayName: '-c1-', effect: { type: 'stuck' } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 3, maxJobAttempts: 2, jobDeadlineMs: 150 },
      { maxJobsPerChunk: 2 },
    );
    expect(fired(emu, 'stuck')).toBe(3);
    const jobs = jobsByChunk(emu, stateDir);
    expect(jobs.get(0)).toHaveLength(2);
    expect(jobs.get(1)).toHaveLength(2);
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.state]));
    // The stuck jobs were cancelled, not left to wait for their 48 h.
    expect(byName.get(jobs.get(0)?.[0]?.name ?? '')).toBe('BATCH_STATE_CANCELLED');
    expect(byName.get(jobs.get(0)?.[1]?.name ?? '')).toBe('BATCH_STATE_SUCCEEDED');
    expect(jobs.get(1)?.map((j) => byName.get(j.name))).toEqual([
      'BATCH_STATE_CANCELLED',
      'BATCH_STATE_CANCELLED',
    ]);
    expect(warnings(events, 'JOB_DEADLINE')).toHaveLength(3);
    // Each cancelled job's end says what it processed: nothing, it never started.
    expect(warnings(events, 'JOB_ENDED_EARLY').map((e) => e.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/ended JOB_STATE_CANCELLED: 0 of 3 requests processed/)]),
    );
    expect(warnings(events, 'JOB_ENDED_EARLY')).toHaveLength(3);
    expect(results.slice(0, 3).every((r) => r.ok)).toBe(true);
    for (const r of results.slice(3)) {
      expect(r).toMatchObject({ ok: false, error: { stage: 'job', code: 'GBS_JOB_DEADLINE' } });
    }
    expect(chunkStates(stateDir)[1]?.attempts.every((a) => a.deadline)).toBe(true);
    // Progress says how long each job has waited.
    const pending = jobStates(events).filter((e) => e.state === 'JOB_STATE_PENDING');
    expect(pending.length).toBeGreaterThanOrEqual(3);
    expect(pending.every((e) => typeof e.waitedMs === 'number' && e.waitedMs >= 0)).toBe(true);
    // Each stuck job's time waited grows from event to event and passes the deadline before it ends.
    for (const job of [jobs.get(0)?.[0], ...(jobs.get(1) ?? [])]) {
      const waited = jobStates(events)
        .filter((e) => e.job === job?.name)
        .map((e) => e.waitedMs);
      expect(waited.length, job?.name).toBeGreaterThanOrEqual(2);
      expect(waited, job?.name).toEqual([...waited].sort((a, b) => a - b));
      expect(waited.at(-1), job?.name).toBeGreaterThanOrEqual(150);
    }

    // onJobDeadline: 'error' → a typed error, and the job is left as it is (a rerun may still collect it).
    const emu2 = await start({ faults: { jobs: [{ effect: { type: 'stuck' } }] } });
    const strict = { stateDir: temp(), ...FAST, jobDeadlineMs: 150, onJobDeadline: 'error' as const };
    const started = Date.now();
    const err = await runRows(emu2, rowsOf(3), prompt, strict, byId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_JOB_DEADLINE');
    expect((err as GbsError).job).toBe(emu2.stats().batches[0]?.name);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(emu2.stats().batches.map((b) => b.state)).toEqual(['BATCH_STATE_PENDING']);
    expect(emu2.stats().batchesCreated).toBe(1);
    // The error's advice must hold: if it says a rerun keeps waiting for the job, a rerun does wait
    // (here: at least another jobDeadlineMs) instead of failing again at once.
    const message = (err as GbsError).message;
    const rerunStarted = Date.now();
    const again = await runRows(emu2, rowsOf(3), prompt, strict, byId).catch((e: unknown) => e);
    const rerunWaited = Date.now() - rerunStarted;
    expect(again).toMatchObject({ code: 'GBS_JOB_DEADLINE' });
    expect(emu2.stats().batchesCreated).toBe(1);
    expect(
      rerunWaited >= 150 || !/rerun to keep waiting/i.test(message),
      `the error says "${message}", yet the rerun failed again after ${rerunWaited} ms without waiting`,
    ).toBe(true);
  });

  it('#16 a job cancelled from outside while RUNNING: terminal, its partial answers collected, the answered (billed) count reported', async () => {
    const emu = await start({ runningMs: 800 });
    const ai = new GoogleGenAI(emu.clientOptions());
    const stateDir = temp();
    const rows = rowsOf(20);
    let cancelled: Promise<unknown> | undefined;
    const { results, events } = await runScenario(
      emu,
      rows,
      {
        stateDir,
        maxJobAttempts: 1,
        onProgress: (e) => {
          if (
            e.type === 'job-state' &&
            e.state === 'JOB_STATE_RUNNING' &&
            (e.stats?.successfulRequestCount ?? 0) >= 5
          )
            cancelled ??= ai.batches.cancel({ name: e.job });
        },
      },
      { maxJobsPerChunk: 1 },
    );
    await cancelled;
    expect(cancelled).toBeDefined();
    const [job] = emu.stats().batches;
    expect(job?.state).toBe('BATCH_STATE_CANCELLED');
    const ok = results.filter((r) => r.ok);
    const answered = job?.successfulRequestCount ?? 0;
    expect(answered).toBeGreaterThanOrEqual(5);
    expect(answered).toBeLessThan(20);
    // The answers the job gave before the cancel are kept, each joined to its own row.
    expect(ok).toHaveLength(answered);
    for (const r of ok) expect(r.text).toBe(answerOf(r.row.text));
    for (const r of results.filter((x) => !x.ok)) {
      expect(r.error).toMatchObject({
        stage: 'job',
        code: 'GBS_JOB_FAILED',
        reason: 'BATCH_STATE_CANCELLED',
      });
    }
    // Progress reports the cancelled job's final counts: the requests that may have been billed.
    const last = jobStates(events).find((e) => e.state === 'JOB_STATE_CANCELLED');
    expect(last?.stats?.successfulRequestCount).toBe(answered);
    // And says so in a warning: what the job processed before it ended, which may be billed.
    expect(warnings(events, 'JOB_ENDED_EARLY').map((e) => e.message)).toEqual([
      `job ${job?.name} ended JOB_STATE_CANCELLED: ${answered} of 20 requests processed (possibly billed); whatever answers it has are kept`,
    ]);
  });

  it('#17 an unknown job state and batchStats as strings with zero counts left out: not terminal, reported as a warning, the run completes', async () => {
    const emu = await start({
      faults: { jobs: [{ effect: { type: 'unknownState', state: 'BATCH_STATE_PAUSED', ms: 150 } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'unknownState')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    const states = jobStates(events).map((e) => e.state);
    expect(states).toContain('BATCH_STATE_PAUSED');
    expect(states.at(-1)).toBe('JOB_STATE_SUCCEEDED');
    const warned = warnings(events, 'UNKNOWN_JOB_STATE');
    expect(warned).toHaveLength(1);
    expect(warned[0]?.message).toContain('BATCH_STATE_PAUSED');
    expect(warnings(events, 'RESUBMIT')).toEqual([]);
    expect(emu.stats().batchesCreated).toBe(1);
    // The wire has `"requestCount": "6", "successfulRequestCount": "6"` and no zero counts.
    expect(jobStates(events).at(-1)?.stats).toEqual({
      requestCount: 6,
      successfulRequestCount: 6,
      failedRequestCount: 0,
      pendingRequestCount: 0,
    });
  });
});
