// Stream lifecycle: a consumer that stops early, a stage destroyed mid-batch, an error upstream.
// Each must end promptly, without unhandled errors, leaving the state a rerun can use.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { geminiBatch, toRequests } from '../../src/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();

function stage(emu: Awaited<ReturnType<typeof start>>, stateDir: string) {
  return geminiBatch({
    client: new GoogleGenAI(emu.clientOptions()),
    model: 'gemini-2.5-flash',
    stateDir,
    maxRequestsPerJob: 5,
    maxConcurrentJobs: 2,
    pollIntervalMs: 5,
  });
}

describe('lifecycle', () => {
  it('a consumer that breaks out early ends the run; a rerun completes from the state', async () => {
    const emu = await start({ runningMs: 50 });
    const stateDir = temp();
    const rows = rowsOf(30);
    const batch = stage(emu, stateDir);
    Readable.from(rows)
      .pipe(toRequests((r: { id: string; text: string }) => r.text, { key: (r) => r.id }))
      .pipe(batch);
    const seen: string[] = [];
    for await (const result of batch) {
      seen.push(result.key);
      if (seen.length === 7) break;
    }
    expect(seen).toEqual(rows.slice(0, 7).map((r) => r.id));
    expect(batch.destroyed).toBe(true);
    const { results } = await runRows(
      emu,
      rows,
      (r) => r.text,
      { stateDir, maxRequestsPerJob: 5, maxConcurrentJobs: 2 },
      { key: (r: { id: string }) => r.id },
    );
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    // No chunk got a second job.
    const names = emu.stats().batches.map((b) => b.displayName);
    expect(new Set(names).size).toBe(names.length);
  });

  it('destroying the stage mid-batch rejects the pipeline at once', async () => {
    const emu = await start({ runningMs: 2000 });
    const batch = stage(emu, temp());
    batch.on('progress', (e) => {
      if (e.type === 'job-created') batch.destroy(new Error('torn down'));
    });
    const started = Date.now();
    await expect(
      pipeline(
        Readable.from(rowsOf(20)),
        toRequests((r: { text: string }) => r.text),
        batch,
        async function* (source) {
          for await (const _ of source) yield _;
        },
      ),
    ).rejects.toThrow('torn down');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an error in the source fails the pipeline with that error', async () => {
    const emu = await start();
    async function* broken() {
      yield { id: 'a', text: 'one' };
      throw new Error('cursor lost');
    }
    await expect(
      pipeline(
        Readable.from(broken()),
        toRequests((r: { text: string }) => r.text),
        stage(emu, temp()),
        async (source) => {
          for await (const _ of source) {
            // drain
          }
        },
      ),
    ).rejects.toThrow('cursor lost');
    expect(emu.stats().batchesCreated).toBe(0);
  });
});
