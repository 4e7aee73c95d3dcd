// Regression: the `signal` option reached only API calls and poll sleeps. A stage waiting for its
// input (a slow source, no job in flight) did not see the abort: the pipeline ran on until the next
// row came, or for ever.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { geminiBatch, geminiOnline, toRequests } from '../../src/index.js';
import { FAST } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { collect, rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

/** Two rows, then nothing: a source that waits (a cursor on a quiet table). */
function stalled(): Readable {
  const source = new Readable({ objectMode: true, read() {} });
  source.push({ id: 'a', text: 'one' });
  source.push({ id: 'b', text: 'two' });
  return source;
}

describe('an abort while the stage waits for input', () => {
  it.each([
    [
      'geminiBatch',
      (client: GoogleGenAI, stateDir: string, signal: AbortSignal) =>
        geminiBatch({ client, model: 'gemini-2.5-flash', stateDir, signal, ...FAST }),
    ],
    [
      'geminiOnline',
      (client: GoogleGenAI, stateDir: string, signal: AbortSignal) =>
        geminiOnline({ client, model: 'gemini-2.5-flash', stateDir, signal }),
    ],
  ] as const)(
    'stops %s at once with the abort reason, and a rerun can use its state',
    async (_name, make) => {
      const emu = await start();
      const client = new GoogleGenAI(emu.clientOptions());
      const stateDir = temp();
      const controller = new AbortController();
      const reason = new Error('stop waiting');
      const out: unknown[] = [];
      const run = pipeline(
        stalled(),
        toRequests((row: { id: string; text: string }) => row.text, { key: (row) => row.id }),
        make(client, stateDir, controller.signal),
        collect(out),
      );
      setTimeout(() => controller.abort(reason), 300);
      const started = Date.now();
      await expect(run).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(5000);

      // The lock was let go: the same state directory serves a rerun.
      if (_name === 'geminiBatch') {
        const { results } = await runRows(
          emu,
          rowsOf(2),
          (r: { text: string }) => r.text,
          { stateDir, ...FAST },
          {
            key: (r: { id: string }) => r.id,
          },
        );
        expect(results.every((r) => r.ok)).toBe(true);
      }
    },
  );
});
