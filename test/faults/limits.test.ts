// Fault scenarios 14 and 15 of gemini-batch-faults.md: an uploaded input file that is gone at create
// time, the project's file storage cap, and a single request larger than a job may be.

import { describe, expect, it } from 'vitest';
import { GbsError } from '../../src/index.js';
import { emulators, rawGet, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';
import { byId, FAST, fired, prompt, runScenario, warnings } from './invariants.js';

const start = emulators();
const temp = tempDirs();

describe('fault scenarios: files and limits', () => {
  it('#14 the uploaded input is gone at create (48 h): re-uploaded, then created; our files are deleted after; a full file storage is a clear error', async () => {
    const emu = await start({
      faults: { http: [{ route: 'batches.create', nth: 1, action: { type: 'expireInput' } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'expireInput')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(emu.stats().calls['batches.create']).toEqual({ 200: 1, 403: 1 });
    expect(emu.stats().calls['upload.start']).toEqual({ 200: 2 });
    expect(emu.stats().batchesCreated).toBe(1);
    expect(warnings(events, 'INPUT_FILE_GONE')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'uploaded')).toHaveLength(2);
    // Once the results are on disk, the uploaded request file is deleted (storage is capped at 20 GB).
    const files = (await rawGet(emu, 'files')).body.files ?? [];
    expect(files.filter((f: { source?: string }) => f.source === 'UPLOADED')).toEqual([]);

    // The project's file storage is full: the upload is refused (429), and after the retries the run
    // stops with an error that says so. No job is created.
    const full = await start({ storageLimitBytes: 100 });
    const err = await runRows(full, rowsOf(4), prompt, { stateDir: temp(), ...FAST }, byId).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_UPLOAD_FAILED');
    expect((err as GbsError).message).toMatch(/RESOURCE_EXHAUSTED/);
    expect((err as GbsError).message).toMatch(/file_storage_bytes, limit: 100/);
    expect((err as GbsError).message).toMatch(/The project's file storage is full .*delete files/);
    expect(full.stats().calls['upload.start']?.[429]).toBeGreaterThanOrEqual(1);
    expect(full.stats().batchesCreated).toBe(0);
  });

  it('#15 one request alone larger than maxBytesPerJob: that row is an error record, the rest go on', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(12, (i) => (i === 5 ? `huge ${'x'.repeat(3000)}` : `prompt number ${i}`));
    const { results, summary } = await runScenario(
      emu,
      rows,
      { stateDir, maxBytesPerJob: 1024 },
      { maxJobsPerChunk: 1 },
    );
    expect(results[5]).toMatchObject({
      key: rows[5]?.id,
      ok: false,
      error: { stage: 'chunk', code: 'GBS_REQUEST_TOO_LARGE' },
    });
    expect(results[5]?.error?.message).toMatch(/maxBytesPerJob \(1024\)/);
    expect(results.filter((r) => r.ok)).toHaveLength(11);
    expect(summary).toMatchObject({ succeeded: 11, failed: 1, failedByCode: { GBS_REQUEST_TOO_LARGE: 1 } });
    // No job was given the oversized request.
    expect(emu.stats().batches.reduce((n, b) => n + b.requestCount, 0)).toBe(11);
  });
});
