// Fault scenarios 7–13 of gemini-batch-faults.md: what a job's results look like when they are late,
// refused, incomplete, doubled, invented, out of order, inline, cut, or very long.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAKE_MARKERS, fakeAnswerText } from '../../src/emulator/index.js';
import { type ProgressEvent, toRestRequest } from '../../src/index.js';
import { emulators, readJsonl, tempDirs } from '../helpers.js';
import { rowsOf } from '../pipeline/harness.js';
import { chunkStates, fired, jobsByChunk, runScenario, warnings } from './invariants.js';

const start = emulators();
const temp = tempDirs();

const answerOf = (text: string) => fakeAnswerText(toRestRequest(text));
const downloads = (events: ProgressEvent[]) =>
  events.filter((e): e is Extract<ProgressEvent, { type: 'downloaded' }> => e.type === 'downloaded');

describe('fault scenarios: results', () => {
  it('#7 SUCCEEDED but the output file answers 404 for a while: the download (through :download, never files.get) is retried', async () => {
    const emu = await start({ faults: { jobs: [{ effect: { type: 'outputNotReady', ms: 250 } }] } });
    const stateDir = temp();
    const rows = rowsOf(5);
    const { results, events } = await runScenario(
      emu,
      rows,
      { stateDir, retry: { retries: 10, minTimeoutMs: 20, maxTimeoutMs: 100 } },
      { maxJobsPerChunk: 1 },
    );
    expect(fired(emu, 'outputNotReady')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(emu.stats().calls['files.download']?.[404]).toBeGreaterThanOrEqual(1);
    expect(emu.stats().calls['files.download']?.[200]).toBe(1);
    // files.get answers 400 for the long `files/batch-…` ids of real output files: never used.
    expect(emu.stats().calls['files.get']).toBeUndefined();
    expect(events.some((e) => e.type === 'retry' && e.operation === 'files.download')).toBe(true);
    expect(warnings(events, 'RESUBMIT')).toEqual([]);
  });

  it('#8 per-request errors, a blocked prompt, empty candidates, SAFETY, MAX_TOKENS: one error record each with code and reason; retryable line errors (13, 14) are resubmitted up to maxRowAttempts', async () => {
    const markers = [
      FAKE_MARKERS.blockPrompt,
      FAKE_MARKERS.safety,
      FAKE_MARKERS.maxTokens,
      FAKE_MARKERS.empty,
      FAKE_MARKERS.error,
      '',
    ];
    const emu = await start({
      faults: {
        jobs: [
          // Chunk 1's first job answers every 2nd request with INTERNAL (13).
          { displayName: '-c1-a1-', effect: { type: 'lineErrors', every: 2, code: 13 } },
          // Every job of chunk 2 answers every request with UNAVAILABLE (14).
          { displayName: '-c2-', effect: { type: 'lineErrors', every: 1, code: 14, message: 'Try later.' } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(18, (i) => (i < 6 ? `prompt ${i} ${markers[i]}` : `prompt number ${i}`));
    const { results, events, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 6, maxRowAttempts: 3 },
      { maxJobsPerChunk: 3 },
    );
    expect(fired(emu, 'lineErrors')).toBe(4);
    const expected = [
      { code: 'GBS_BLOCKED', reason: 'SAFETY' },
      { code: 'GBS_FINISH_REASON', reason: 'SAFETY' },
      { code: 'GBS_FINISH_REASON', reason: 'MAX_TOKENS' },
      { code: 'GBS_EMPTY_RESPONSE' },
      { code: 'GBS_REQUEST_FAILED', reason: 'INVALID_ARGUMENT' },
    ];
    for (const [i, error] of expected.entries()) {
      expect(results[i], `row ${i}`).toMatchObject({ ok: false, error: { stage: 'request', ...error } });
      expect(results[i]?.error?.message, `row ${i}`).toBeTruthy();
    }
    // MAX_TOKENS keeps the text it got; a blocked prompt has the raw response on the record.
    expect(results[2]?.text).toBeTruthy();
    expect(results[0]?.response).toBeDefined();
    expect(results[5]).toMatchObject({ ok: true, text: answerOf(rows[5]?.text ?? '') });
    // An INVALID_ARGUMENT answer is final: chunk 0 had one job.
    const jobs = jobsByChunk(emu, stateDir);
    expect(jobs.get(0)).toHaveLength(1);
    // Chunk 1: the 3 INTERNAL answers went to a second job, which answered them.
    expect(jobs.get(1)).toHaveLength(2);
    for (const [i, r] of results.slice(6, 12).entries()) {
      expect(r, `row ${6 + i}`).toMatchObject({ ok: true, text: answerOf(rows[6 + i]?.text ?? '') });
    }
    // Chunk 2: sent 3 times in all (maxRowAttempts), then one error record per key.
    expect(jobs.get(2)).toHaveLength(3);
    for (const r of results.slice(12)) {
      expect(r).toMatchObject({
        ok: false,
        error: { stage: 'request', code: 'GBS_REQUEST_FAILED', reason: 'UNAVAILABLE', message: 'Try later.' },
      });
    }
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.requestCount]));
    expect(jobs.get(1)?.map((j) => byName.get(j.name))).toEqual([6, 3]);
    expect(jobs.get(2)?.map((j) => byName.get(j.name))).toEqual([6, 6, 6]);
    expect(warnings(events, 'RESUBMIT')).toHaveLength(3);
    expect(summary).toMatchObject({ succeeded: 7, failed: 11 });

    // I3 with maxJobAttempts: 1 ("jobs per chunk in all"): a retryable answer is not worth a job the
    // settings do not allow; each key gets its error record after the one job.
    const one = await start({ faults: { jobs: [{ effect: { type: 'lineErrors', every: 1, code: 13 } }] } });
    const oneDir = temp();
    const few = rowsOf(3);
    const single = await runScenario(
      one,
      few,
      { stateDir: oneDir, maxJobAttempts: 1, maxRowAttempts: 3 },
      { maxJobsPerChunk: 1 },
    );
    for (const r of single.results) {
      expect(r).toMatchObject({ ok: false, error: { code: 'GBS_REQUEST_FAILED', reason: 'INTERNAL' } });
    }
    expect(one.stats().batchesCreated, 'jobs for one chunk with maxJobAttempts: 1').toBe(1);
  });

  it('#9 keys missing from the results file: resubmitted as a new job, and after maxJobAttempts GBS_RESULT_MISSING records', async () => {
    const emu = await start({
      faults: {
        jobs: [
          { displayName: '-c0-a1-', effect: { type: 'dropKeys', every: 3 } },
          { displayName: '-c1-', effect: { type: 'dropKeys', every: 1 } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(18);
    const { results, events } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 9, maxJobAttempts: 2 },
      { maxJobsPerChunk: 2 },
    );
    expect(fired(emu, 'dropKeys')).toBe(3);
    const jobs = jobsByChunk(emu, stateDir);
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.requestCount]));
    // Chunk 0: the 3 keys the first job left out went to a second job of 3 requests.
    expect(jobs.get(0)?.map((j) => byName.get(j.name))).toEqual([9, 3]);
    for (const [i, r] of results.slice(0, 9).entries()) {
      expect(r, `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
    }
    // Chunk 1: no job answered anything; after 2 jobs, one error record per key.
    expect(jobs.get(1)?.map((j) => byName.get(j.name))).toEqual([9, 9]);
    for (const r of results.slice(9)) {
      expect(r).toMatchObject({ ok: false, error: { stage: 'job', code: 'GBS_RESULT_MISSING' } });
    }
    expect(warnings(events, 'RESUBMIT')).toHaveLength(2);
  });

  it('#10 duplicate result lines and lines for keys never sent: the first answer wins, both counted in summary.anomalies with a warning, unknown keys never in the output', async () => {
    const emu = await start({
      faults: {
        jobs: [
          {
            effect: [
              { type: 'duplicateKeys', every: 2 },
              { type: 'unknownKeys', count: 3 },
            ],
          },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(10);
    const { results, events, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 5 },
      { maxJobsPerChunk: 1 },
    );
    expect(fired(emu, 'duplicateKeys')).toBe(2);
    expect(fired(emu, 'unknownKeys')).toBe(2);
    for (const [i, r] of results.entries()) {
      // The first answer, not the second copy (which ends in "(duplicate)").
      expect(r, `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
    }
    expect(results.some((r) => r.key.startsWith('emulator-unknown'))).toBe(false);
    expect(summary?.anomalies).toEqual({ unknownKeys: 6, duplicateKeys: 4, malformedLines: 0 });
    expect(warnings(events, 'DUPLICATE_RESULTS')).toHaveLength(2);
    expect(warnings(events, 'UNKNOWN_KEYS')).toHaveLength(2);
    expect(emu.stats().batchesCreated).toBe(2);
    expect(warnings(events, 'RESUBMIT')).toEqual([]);
  });

  it('#11 results out of input order, and a file job answered inline: joined by key, never by position', async () => {
    const emu = await start({
      faults: {
        jobs: [
          { displayName: '-c0-', effect: { type: 'shuffle' } },
          { displayName: '-c1-', effect: { type: 'inline' } },
          { displayName: '-c2-', effect: [{ type: 'inline' }, { type: 'shuffle' }] },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(36);
    const { results } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 12 },
      { maxJobsPerChunk: 1 },
    );
    expect(fired(emu, 'shuffle')).toBe(2);
    expect(fired(emu, 'inline')).toBe(2);
    for (const [i, r] of results.entries()) {
      expect(r, `row ${i}`).toMatchObject({ ok: true, row: rows[i], text: answerOf(rows[i]?.text ?? '') });
    }
    const states = chunkStates(stateDir);
    // Chunk 0's results file really was out of order; chunks 1 and 2 came inline (no file to download).
    const order = readJsonl<{ key: string }>(
      join(stateDir, 'chunks', '000000', states[0]?.attempts[0]?.resultsFile ?? ''),
    ).map((r) => r.key);
    expect(order).not.toEqual(rows.slice(0, 12).map((r) => r.id));
    expect([...order].sort()).toEqual(rows.slice(0, 12).map((r) => r.id));
    expect(states[0]?.attempts[0]?.output).toMatch(/^files\/batch-/);
    expect(states[1]?.attempts[0]?.output).toBeUndefined();
    expect(states[2]?.attempts[0]?.output).toBeUndefined();
    expect(emu.stats().batchesCreated).toBe(3);
  });

  it('#12 malformed (cut) result lines: the reader goes on; the affected keys are resubmitted, or become error records', async () => {
    const emu = await start({
      faults: {
        jobs: [
          { displayName: '-c0-a1-', effect: { type: 'malformed', every: 3 } },
          { displayName: '-c1-', effect: { type: 'malformed', every: 1 } },
        ],
        // And the first download breaks off mid-way (the last line it wrote is cut short).
        http: [{ route: 'files.download', nth: 1, action: { type: 'truncate' } }],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(18);
    const { results, events, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 9, maxJobAttempts: 2 },
      { maxJobsPerChunk: 2 },
    );
    expect(fired(emu, 'malformed')).toBe(3);
    expect(fired(emu, 'truncate')).toBe(1);
    expect(emu.stats().calls['files.download']).toMatchObject({ dropped: 1 });
    const jobs = jobsByChunk(emu, stateDir);
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b.requestCount]));
    expect(jobs.get(0)?.map((j) => byName.get(j.name))).toEqual([9, 3]);
    for (const [i, r] of results.slice(0, 9).entries()) {
      expect(r, `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
    }
    for (const r of results.slice(9)) expect(r).toMatchObject({ ok: false, error: { stage: 'job' } });
    expect(summary?.anomalies.malformedLines).toBe(3 + 9 + 9);
    expect(warnings(events, 'MALFORMED_LINES').length).toBeGreaterThanOrEqual(2);
  });

  it('#13 a results file far larger than the input (very long lines): streamed to disk, read line by line, the run completes', async () => {
    const emu = await start({
      faults: { jobs: [{ effect: { type: 'longLines', every: 2, bytes: 4 * 1024 * 1024 } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(8);
    const { results, events } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'longLines')).toBe(1);
    // The thought parts that make the lines long are left out of the text.
    for (const [i, r] of results.entries()) {
      expect(r, `row ${i}`).toMatchObject({ ok: true, text: answerOf(rows[i]?.text ?? '') });
    }
    const [state] = chunkStates(stateDir);
    const input = statSync(join(stateDir, 'chunks', '000000', 'requests.jsonl')).size;
    const output = statSync(join(stateDir, 'chunks', '000000', state?.attempts[0]?.resultsFile ?? '')).size;
    expect(output).toBeGreaterThan(16 * 1024 * 1024);
    expect(output).toBeGreaterThan(1000 * input);
    expect(downloads(events)[0]?.bytes).toBe(output);
  });

  it('#12/#13 a result line over 128 MiB: an error record for its key (its answer is never read into memory), the other rows answered', async () => {
    const emu = await start({
      faults: { jobs: [{ effect: { type: 'longLines', every: 2, bytes: 129 * 2 ** 20 } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(3);
    const { results, summary } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'longLines')).toBe(1);
    expect(results[0]).toMatchObject({ ok: true, text: answerOf(rows[0]?.text ?? '') });
    expect(results[1]).toMatchObject({ ok: false, error: { stage: 'job', code: 'GBS_RESULT_MISSING' } });
    expect(results[1]?.error?.message).toMatch(/is 129 MiB long, over the 128 MiB a result line may take$/);
    expect(results[2]).toMatchObject({ ok: true, text: answerOf(rows[2]?.text ?? '') });
    // Not sent again: the answer exists, it is only too long to read.
    expect(emu.stats().batchesCreated).toBe(1);
    expect(summary?.anomalies).toEqual({ unknownKeys: 0, duplicateKeys: 0, malformedLines: 0 });
  });
});
