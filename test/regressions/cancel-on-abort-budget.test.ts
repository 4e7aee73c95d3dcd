// Regression: with cancelOnAbort, reading each cancelled job's counts (what it may have cost) ran
// batches.get with the full retry policy inside the 30 s meant for cancelling: while batches.get
// failed, the first job's read used it all and the second job was never cancelled (it kept running
// and billing). Every job is now cancelled first; the counts are read after, one try each.

import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/index.js';
import { byId, prompt } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('cancelOnAbort while batches.get fails', () => {
  it('cancels every live job; the counts it cannot read are reported unknown', async () => {
    const emu = await start({ runningMs: 60_000 });
    const controller = new AbortController();
    const running = new Set<string>();
    const events: ProgressEvent[] = [];
    const err = await runRows(
      emu,
      rowsOf(6),
      prompt,
      {
        stateDir: temp(),
        pollIntervalMs: 20,
        maxRequestsPerJob: 3,
        maxConcurrentJobs: 2,
        cancelOnAbort: true,
        retry: { retries: 8, minTimeoutMs: 1000, maxTimeoutMs: 60_000 },
        signal: controller.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.type === 'job-state' && e.state === 'JOB_STATE_RUNNING') running.add(e.job);
          if (running.size === 2 && !controller.signal.aborted) {
            emu.setFaults({ http: [{ route: 'batches.get', action: { type: 'error', status: 503 } }] });
            controller.abort(new Error('stop'));
          }
        },
      },
      byId,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop');
    expect(emu.stats().batches.map((b) => b.state)).toEqual([
      'BATCH_STATE_CANCELLED',
      'BATCH_STATE_CANCELLED',
    ]);
    const warned = events.flatMap((e) => (e.type === 'warning' ? [`${e.code}: ${e.message}`] : []));
    expect(warned.sort()).toEqual(
      [...running]
        .sort()
        .map((job) => `JOB_CANCELLED: cancelled ${job} (cancelOnAbort): request counts unknown`),
    );
  }, 60_000);
});
