// Stopping and starting again: an abort stops promptly and leaves a state a rerun picks up without
// creating any job twice; a finished run reruns for free; a changed input is refused.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GbsError, type ProgressEvent } from '../../src/index.js';
import { emulators, tempDirs, until } from '../helpers.js';
import { rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();
const byId = { key: (row: { id: string }) => row.id };
const prompt = (r: { text: string }) => r.text;

function chunkState(stateDir: string, chunk: number) {
  return JSON.parse(
    readFileSync(join(stateDir, 'chunks', String(chunk).padStart(6, '0'), 'state.json'), 'utf8'),
  );
}

describe('abort', () => {
  it('stops promptly on an AbortSignal, leaves jobs running, and a rerun finishes without creating them again', async () => {
    const emu = await start({ runningMs: 600 });
    const stateDir = temp();
    const rows = rowsOf(20);
    const controller = new AbortController();
    let created = 0;
    const run = runRows(
      emu,
      rows,
      prompt,
      {
        stateDir,
        maxRequestsPerJob: 5,
        maxConcurrentJobs: 2,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type === 'job-created' && ++created === 2) controller.abort(new Error('user stop'));
        },
      },
      byId,
    );
    const started = Date.now();
    await expect(run).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(emu.stats().batchesCreated).toBe(2);
    // The two jobs were left running (not cancelled) and the state knows them.
    const jobs = [chunkState(stateDir, 0).attempts[0].job, chunkState(stateDir, 1).attempts[0].job];
    expect(jobs.every((j: string) => /^batches\//.test(j))).toBe(true);
    expect(emu.stats().batches.filter((b) => b.state === 'BATCH_STATE_CANCELLED')).toEqual([]);

    const again = await runRows(
      emu,
      rows,
      prompt,
      { stateDir, maxRequestsPerJob: 5, maxConcurrentJobs: 2 },
      byId,
    );
    expect(again.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(again.results.every((r) => r.ok)).toBe(true);
    // 4 chunks, 4 jobs in all: the rerun created only the two that did not exist.
    expect(emu.stats().batchesCreated).toBe(4);
    expect(again.summary?.jobsCreated).toBe(2);
  });

  it('cancels the live jobs on abort with cancelOnAbort', async () => {
    const emu = await start({ runningMs: 5000 });
    const controller = new AbortController();
    const events: ProgressEvent[] = [];
    const run = runRows(
      emu,
      rowsOf(10),
      prompt,
      {
        stateDir: temp(),
        maxRequestsPerJob: 5,
        cancelOnAbort: true,
        signal: controller.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.type === 'job-state' && e.state === 'JOB_STATE_RUNNING') controller.abort();
        },
      },
      byId,
    );
    await expect(run).rejects.toThrow();
    await until(
      async () => emu.stats().batches.every((b) => b.state === 'BATCH_STATE_CANCELLED'),
      10_000,
    ).catch((e) => {
      console.log(JSON.stringify(emu.stats()));
      throw e;
    });
    expect(emu.stats().batches.length).toBeGreaterThan(0);
    // Each cancel says what its job had processed by then (what may be billed).
    const cancels = events.filter((e) => e.type === 'warning' && e.code === 'JOB_CANCELLED');
    expect(cancels.length).toBe(emu.stats().batches.length);
    for (const e of cancels)
      expect(e.type === 'warning' && e.message).toMatch(/: \d+ of 5 requests processed \(possibly billed\)$/);
  });
});

describe('rerun', () => {
  it('of a finished run makes no API call and writes the same output', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(12);
    const first = await runRows(emu, rows, prompt, { stateDir, maxRequestsPerJob: 5 }, byId);
    const calls = JSON.stringify(emu.stats().calls);
    const second = await runRows(emu, rows, prompt, { stateDir, maxRequestsPerJob: 5 }, byId);
    expect(JSON.stringify(emu.stats().calls)).toBe(calls);
    expect(second.results).toEqual(first.results);
    expect(
      second.events
        .filter((e) => e.type === 'chunk-spooled')
        .every((e) => e.type === 'chunk-spooled' && e.resumed),
    ).toBe(true);
  });

  it('with a changed input stops with GBS_STATE_MISMATCH before creating anything', async () => {
    const emu = await start();
    const stateDir = temp();
    await runRows(emu, rowsOf(6), prompt, { stateDir, maxRequestsPerJob: 3 }, byId);
    const created = emu.stats().batchesCreated;
    const changed = rowsOf(6, (i) => (i === 4 ? 'a different prompt' : `prompt number ${i}`));
    const err = await runRows(emu, changed, prompt, { stateDir, maxRequestsPerJob: 3 }, byId).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_STATE_MISMATCH');
    expect((err as GbsError).chunk).toBe(1);
    expect(emu.stats().batchesCreated).toBe(created);
  });

  it('with the same requests but other row data refreshes the rows and keeps the answers', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(4).map((r) => ({ ...r, note: 'old' }));
    await runRows(emu, rows, prompt, { stateDir }, byId);
    const calls = JSON.stringify(emu.stats().calls);
    const newer = rows.map((r) => ({ ...r, note: 'new' }));
    const { results } = await runRows(emu, newer, prompt, { stateDir }, byId);
    expect(results.map((r) => r.row.note)).toEqual(['new', 'new', 'new', 'new']);
    expect(JSON.stringify(emu.stats().calls)).toBe(calls);
  });
});
