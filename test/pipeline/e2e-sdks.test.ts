// The whole pipeline with each SDK build and API version (2.x and 3.x, v1beta and v1): several chunks
// with structured output, batchStats, every call on the client's API version, then a resume.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { emulators, SDK_VARIANTS, tempDirs } from '../helpers.js';
import { byId, rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();

// The README promises any GoogleGenAI, 2.x or 3.x: the whole pipeline (upload, create, poll with
// batchStats, download, delete, structured output, resume) with each SDK build and API version.
describe.each(SDK_VARIANTS)('geminiBatch with $label', ({ make, apiVersion, wire }) => {
  it('runs several chunks with structured output, then resumes without a call', async () => {
    const paths: string[] = [];
    const emu = await start({ runningMs: 30, log: (l) => paths.push(l.split(' ')[1] ?? '') });
    const rows = rowsOf(23);
    const stateDir = temp();
    const options = {
      stateDir,
      client: make(emu.clientOptions(apiVersion)),
      maxRequestsPerJob: 10,
      outputSchema: z.object({ label: z.enum(['a', 'b']), score: z.number().int().min(1).max(5) }),
    };
    const first = await runRows(emu, rows, (r) => r.text, options, byId);
    expect(first.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    for (const r of first.results) {
      expect(r.ok).toBe(true);
      expect(['a', 'b']).toContain(r.output.label);
      expect(r.output.score).toBeGreaterThanOrEqual(1);
    }
    expect(first.summary).toMatchObject({ rows: 23, succeeded: 23, chunks: 3, jobsCreated: 3 });
    // batchStats reached the stage (read from the raw Operation, whatever the SDK build).
    const finished = first.events.filter((e) => e.type === 'job-state' && e.state === 'JOB_STATE_SUCCEEDED');
    const counts = finished.map((e) => (e.type === 'job-state' ? (e.stats?.requestCount ?? 0) : 0));
    expect(counts.sort((a, b) => a - b)).toEqual([3, 10, 10]);
    // Every call went to the API version the client asked for.
    const apiPaths = paths.filter((p) => !p.startsWith('/upload/') && !p.startsWith('/download/'));
    expect(apiPaths.length).toBeGreaterThan(6);
    for (const p of apiPaths) expect(p.startsWith(`/${wire}/`), p).toBe(true);
    expect(emu.stats().calls['files.delete']).toEqual({ 200: 3 });

    const second = await runRows(
      emu,
      rows,
      (r) => r.text,
      { ...options, client: make(emu.clientOptions(apiVersion)) },
      byId,
    );
    expect(second.results).toEqual(first.results);
    expect(emu.stats().batchesCreated).toBe(3);
  });
});
