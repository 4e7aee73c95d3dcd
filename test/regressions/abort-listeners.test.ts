// Regression: the SDK adds an 'abort' listener to the signal of every call and never removes it.
// Passing the run's long-lived signal made listeners pile up with every poll
// (MaxListenersExceededWarning, and memory growing over a long run).

import { describe, expect, it } from 'vitest';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

describe('a run with many polls', () => {
  it('does not pile up abort listeners', async () => {
    const emu = await start({ runningMs: 300 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { summary } = await runRows(emu, rowsOf(60), (r) => r.text, {
        stateDir: temp(),
        maxRequestsPerJob: 5,
        maxConcurrentJobs: 12,
        pollIntervalMs: 2,
      });
      expect(summary?.chunks).toBe(12);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
