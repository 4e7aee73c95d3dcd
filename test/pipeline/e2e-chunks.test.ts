// The whole pipeline through the real SDK and the emulator, chunks: answers joined in input order,
// splits by count and bytes, jobs in flight, unordered output, empty input, the state in stateDir.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { toRestRequest } from '../../src/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { byId, rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();

describe('geminiBatch end to end', () => {
  it('joins every answer to its row by key, in input order, on a single chunk', async () => {
    const emu = await start();
    const rows = rowsOf(7);
    const { results, summary } = await runRows(emu, rows, (r) => r.text, { stateDir: temp() }, byId);
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    for (const [i, r] of results.entries()) {
      expect(r.ok).toBe(true);
      expect(r.row).toEqual(rows[i]);
      expect(r.text).toBe(fakeAnswerText(toRestRequest(rows[i]?.text ?? '')));
      expect(r.usage?.promptTokens).toBeGreaterThan(0);
    }
    expect(summary).toMatchObject({ rows: 7, succeeded: 7, failed: 0, chunks: 1, jobsCreated: 1 });
    expect(emu.stats().batchesCreated).toBe(1);
  });

  it('splits into chunks at maxRequestsPerJob and keeps at most maxConcurrentJobs jobs in flight', async () => {
    const emu = await start({ runningMs: 80 });
    const rows = rowsOf(53);
    let live = 0;
    let maxLive = 0;
    const { results, summary, events } = await runRows(
      emu,
      rows,
      (r) => r.text,
      {
        stateDir: temp(),
        maxRequestsPerJob: 5,
        maxConcurrentJobs: 3,
        onProgress: (e) => {
          if (e.type === 'uploaded') maxLive = Math.max(maxLive, ++live);
          if (e.type === 'downloaded') live--;
        },
      },
      byId,
    );
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(summary?.chunks).toBe(11);
    expect(emu.stats().batchesCreated).toBe(11);
    expect(maxLive).toBe(3);
    // Chunk 3 is only spooled once one of the first three jobs is done: the source waited.
    const order = events.map((e) =>
      e.type === 'chunk-spooled' ? `s${e.chunk}` : e.type === 'downloaded' ? `d${e.chunk}` : '',
    );
    expect(order.indexOf('s3')).toBeGreaterThan(
      Math.min(order.indexOf('d0'), order.indexOf('d1'), order.indexOf('d2')),
    );
  });

  it('splits at maxBytesPerJob', async () => {
    const emu = await start();
    const rows = rowsOf(10, (i) => `${'x'.repeat(300)} ${i}`);
    const { summary } = await runRows(
      emu,
      rows,
      (r) => r.text,
      { stateDir: temp(), maxBytesPerJob: 1100 },
      byId,
    );
    expect(summary?.chunks).toBe(5);
    expect(summary?.succeeded).toBe(10);
  });

  it('emits chunks as they finish with ordered: false, each key exactly once', async () => {
    const emu = await start({ runningMs: 30 });
    const rows = rowsOf(40);
    const { results } = await runRows(
      emu,
      rows,
      (r) => r.text,
      { stateDir: temp(), maxRequestsPerJob: 4, maxConcurrentJobs: 5, ordered: false },
      byId,
    );
    expect(results.map((r) => r.key).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(new Set(results.map((r) => r.key)).size).toBe(40);
  });

  it('passes an empty input through without creating anything', async () => {
    const emu = await start();
    const { results, summary } = await runRows(emu, [], (r) => r.text, { stateDir: temp() });
    expect(results).toEqual([]);
    expect(summary).toMatchObject({ rows: 0, chunks: 0 });
    expect(emu.stats().batchesCreated).toBe(0);
  });

  it('keeps the run state in stateDir: manifest, chunk state, spool files, results', async () => {
    const emu = await start();
    const stateDir = temp();
    await runRows(emu, rowsOf(4), (r) => r.text, { stateDir }, byId);
    const manifest = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 1, fingerprint: { model: 'gemini-2.5-flash' } });
    const chunkDir = join(stateDir, 'chunks', '000000');
    expect(readdirSync(chunkDir).sort()).toEqual([
      'keys.idx',
      'requests.jsonl',
      'results-1.jsonl',
      'rows.jsonl',
      'state.json',
    ]);
    const state = JSON.parse(readFileSync(join(chunkDir, 'state.json'), 'utf8'));
    expect(state.attempts[0]).toMatchObject({
      n: 1,
      phase: 'downloaded',
      jobState: 'JOB_STATE_SUCCEEDED',
      inputDeleted: true,
    });
    expect(state.attempts[0].displayName).toMatch(new RegExp(`^gbs-${manifest.runId}-c0-a1-[0-9a-f]{12}$`));
    // The uploaded input file was deleted from the Files API once the results were safe.
    expect(emu.stats().calls['files.delete']).toEqual({ 200: 1 });
  });
});
