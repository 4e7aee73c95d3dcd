// Fault scenario 4 of gemini-batch-faults.md: the process stops at any step (here: an abort at each
// step, and a create whose answer never got saved); a rerun with the same state dir re-attaches to
// live or finished jobs, creates none twice, and writes exactly what an uninterrupted run writes.
// (The SIGKILL form, at random instants in a child process, is test/soak/kill.test.ts.)

import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/index.js';
import { emulators, rawGet, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';
import { byId, chunkStates, FAST, fired, prompt, runScenario } from './invariants.js';

const start = emulators();
const temp = tempDirs();

describe('fault scenarios: crash and rerun', () => {
  it('#4 stopped after the upload, after the create, while polling, mid-download, mid-output, or between create and saving it: the rerun output equals an uninterrupted run, no job created twice', async () => {
    const emu = await start({ runningMs: 60 });
    const rows = rowsOf(12);
    const opts = { ...FAST, maxRequestsPerJob: 4, maxConcurrentJobs: 1 };
    const reference = await runRows(emu, rows, prompt, { stateDir: temp(), ...opts }, byId);
    expect(reference.results.every((r) => r.ok)).toBe(true);

    type Stop = {
      name: string;
      at: (e: ProgressEvent) => boolean;
      delayMs?: number;
      setup?: () => void;
      /** Jobs the two runs create together (default: one per chunk). */
      jobs?: number;
    };
    const stops: Stop[] = [
      { name: 'after the upload, before the create', at: (e) => e.type === 'uploaded' && e.chunk === 1 },
      { name: 'right after the create', at: (e) => e.type === 'job-created' && e.chunk === 1 },
      {
        name: 'while polling',
        at: (e) => e.type === 'job-state' && e.chunk === 1 && e.state === 'JOB_STATE_RUNNING',
      },
      {
        name: 'mid-download',
        // The 2nd download (chunk 1's) is answered after 400 ms; the stop comes while it is under way.
        setup: () =>
          emu.setFaults({ http: [{ route: 'files.download', nth: 2, action: { type: 'delay', ms: 400 } }] }),
        at: (e) => e.type === 'job-state' && e.chunk === 1 && e.state === 'JOB_STATE_SUCCEEDED',
        delayMs: 100,
      },
      { name: 'after the download', at: (e) => e.type === 'downloaded' && e.chunk === 1 },
      { name: 'mid-output', at: (e) => e.type === 'chunk-emitted' && e.chunk === 0 },
      {
        name: 'while the job resubmitting a failed job’s missing keys runs',
        // Chunk 1's first job fails half-way; the stop comes once its second job exists.
        setup: () =>
          emu.setFaults({
            jobs: [{ displayName: '-c1-a1-', effect: { type: 'end', state: 'FAILED', after: 0.5 } }],
          }),
        at: (e) => e.type === 'job-created' && e.chunk === 1 && e.attempt === 2,
        jobs: 4,
      },
    ];
    for (const stop of stops) {
      emu.setFaults({});
      stop.setup?.();
      const before = emu.stats().batchesCreated;
      const stateDir = temp();
      const controller = new AbortController();
      const first = runRows(
        emu,
        rows,
        prompt,
        {
          stateDir,
          ...opts,
          signal: controller.signal,
          onProgress: (e) => {
            if (!stop.at(e)) return;
            const kill = () => controller.abort(new Error(`stopped ${stop.name}`));
            if (stop.delayMs) setTimeout(kill, stop.delayMs);
            else kill();
          },
        },
        byId,
      );
      await expect(first, stop.name).rejects.toThrow();
      if (stop.name === 'mid-download') {
        expect(fired(emu, 'delay'), stop.name).toBe(1);
        // Stopped with chunk 1's job finished but its results not yet on disk.
        expect(chunkStates(stateDir)[1]?.attempts[0]?.phase, stop.name).toMatch(/^(created|terminal)$/);
        expect(chunkStates(stateDir)[1]?.attempts[0]?.resultsFile, stop.name).toBeUndefined();
      }
      emu.setFaults({});
      const again = await runScenario(
        emu,
        rows,
        { stateDir, ...opts },
        { maxJobsPerChunk: stop.jobs ? 2 : 1, createdBefore: before },
      );
      expect(again.results, stop.name).toEqual(reference.results);
      expect(emu.stats().batchesCreated - before, stop.name).toBe(stop.jobs ?? 3);
    }

    // The create reached the server but its answer was lost, and the process died before it could
    // look for the job (no retries left): the state says `creating`; the rerun adopts the job.
    emu.setFaults({ http: [{ route: 'batches.create', nth: 2, action: { type: 'dropAfter' } }] });
    const before = emu.stats().batchesCreated;
    const stateDir = temp();
    await expect(
      runRows(
        emu,
        rows,
        prompt,
        { stateDir, ...opts, retry: { retries: 0, minTimeoutMs: 5, maxTimeoutMs: 5 } },
        byId,
      ),
    ).rejects.toThrow();
    expect(fired(emu, 'dropAfter')).toBe(1);
    expect(chunkStates(stateDir)[1]?.attempts[0]).toMatchObject({ phase: 'creating' });
    expect(chunkStates(stateDir)[1]?.attempts[0]?.job).toBeUndefined();
    emu.setFaults({});
    const again = await runScenario(
      emu,
      rows,
      { stateDir, ...opts },
      { maxJobsPerChunk: 1, createdBefore: before },
    );
    expect(again.results).toEqual(reference.results);
    expect(again.summary).toMatchObject({ jobsAdopted: 1, jobsCreated: 1 });
    expect(emu.stats().batchesCreated - before).toBe(3);
    // The adopted job waits from its creation on the server, not from the rerun that found it.
    const adopted = chunkStates(stateDir)[1]?.attempts[0];
    const listed = (await rawGet(emu, 'batches?pageSize=100')).body.operations as Array<{
      name: string;
      metadata: { createTime: string };
    }>;
    expect(adopted?.createdAt).toBe(listed.find((b) => b.name === adopted?.job)?.metadata.createTime);
  });
});
