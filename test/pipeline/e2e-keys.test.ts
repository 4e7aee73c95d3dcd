// The whole pipeline through the real SDK and the emulator, keys: a duplicate key stops the run before
// the job that would hold it, in one chunk or across chunks, even when the key filter is saturated.

import { describe, expect, it } from 'vitest';
import { GbsError } from '../../src/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { byId, rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();

describe('geminiBatch end to end', () => {
  it('stops with GBS_DUPLICATE_KEY before creating the job holding the second key (same chunk)', async () => {
    const emu = await start();
    const rows = [...rowsOf(3), { id: 'id-00001', text: 'again' }];
    const err = await runRows(emu, rows, (r) => r.text, { stateDir: temp() }, byId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).key).toBe('id-00001');
    expect(emu.stats().batchesCreated).toBe(0);
    expect(emu.stats().calls['upload.start']).toBeUndefined();
  });

  it('stops with GBS_DUPLICATE_KEY across chunks, before the chunk holding the second key is submitted', async () => {
    const emu = await start();
    const rows = [...rowsOf(6), { id: 'id-00002', text: 'again' }];
    const err = await runRows(
      emu,
      rows,
      (r) => r.text,
      { stateDir: temp(), maxRequestsPerJob: 3, maxConcurrentJobs: 1 },
      byId,
    ).catch((e: unknown) => e);
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).message).toContain('id-00002');
    // Chunks 0 and 1 (6 rows) may have been submitted; chunk 2 (the duplicate) never was.
    expect(emu.stats().batchesCreated).toBeLessThanOrEqual(2);
  });

  it('confirms key-filter suspects on disk: a saturated filter never fails unique keys, still catches a duplicate', async () => {
    const emu = await start();
    // 64 bytes of filter: after a few keys every key is a suspect and must be checked on disk.
    const tiny = { maxRequestsPerJob: 4, maxConcurrentJobs: 4, keyFilterBytes: 64 };
    const { summary } = await runRows(emu, rowsOf(40), (r) => r.text, { stateDir: temp(), ...tiny }, byId);
    expect(summary).toMatchObject({ rows: 40, succeeded: 40, chunks: 10 });
    const dup = [...rowsOf(30), { id: 'id-00003', text: 'again' }];
    const err = await runRows(emu, dup, (r) => r.text, { stateDir: temp(), ...tiny }, byId).catch(
      (e: unknown) => e,
    );
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).chunk).toBe(7);
  });
});
