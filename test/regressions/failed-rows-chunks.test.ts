// Regression: a chunk closed only when its requests reached maxRequestsPerJob (or maxBytesPerJob),
// but every row joins the open chunk's key index, a row that failed before becoming a request too
// (rowSchema, a builder that throws, an empty key). An input whose rows mostly fail made one huge
// chunk: its key index grew with the dataset (1 M failing rows: one chunk, 370 MB peak RSS).
// Failed rows now count toward a chunk's size: a chunk holds at most maxRequestsPerJob rows.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FAST } from '../faults/invariants.js';
import { emulators, readJsonl, tempDirs } from '../helpers.js';
import { runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

interface Row {
  id: string;
  n?: string;
  text: string;
}

const schema = z.looseObject({ id: z.string(), n: z.coerce.number().int(), text: z.string() });

/** Row i is valid when `valid(i)`; the others fail, one in two the rowSchema, the rest in the builder. */
function makeRows(count: number, valid: (i: number) => boolean): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `r${String(i).padStart(4, '0')}`;
    if (valid(i)) return { id, n: String(i), text: `prompt ${i}` };
    return i % 2 === 0 ? { id, text: 'no n: fails the rowSchema' } : { id, n: String(i), text: 'THROW' };
  });
}

const build = (row: Row) => {
  if (row.text === 'THROW') throw new Error('no prompt for this row');
  return row.text;
};
const requestOptions = { rowSchema: schema, key: (row: Row) => row.id };

/** Rows per chunk, read from each chunk's rows.jsonl in the state directory. */
function rowsPerChunk(stateDir: string): number[] {
  const chunks = readdirSync(join(stateDir, 'chunks')).sort();
  return chunks.map((c) => readJsonl(join(stateDir, 'chunks', c, 'rows.jsonl')).length);
}

describe('an input whose rows mostly fail before becoming requests', () => {
  it('makes chunks of at most maxRequestsPerJob rows, failed rows included; every row comes out once, in order; a rerun resumes', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = makeRows(1000, (i) => i % 100 === 0);
    const options = { stateDir, ...FAST, maxRequestsPerJob: 10 };
    const first = await runRows(emu, rows, build, options, requestOptions);

    expect(first.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    first.results.forEach((r, i) => {
      if (i % 100 === 0)
        expect(r, r.key).toMatchObject({ ok: true, text: expect.stringContaining(`prompt ${i}`) });
      else expect(r.error?.code, r.key).toBe(i % 2 === 0 ? 'GBS_ROW_INVALID' : 'GBS_BUILD_FAILED');
    });
    expect(first.summary).toMatchObject({ rows: 1000, succeeded: 10, failed: 990, chunks: 100 });

    // The bound, in the state directory and in the progress events.
    const sizes = rowsPerChunk(stateDir);
    expect(sizes).toHaveLength(100);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    const spooled = first.events.flatMap((e) => (e.type === 'chunk-spooled' ? [e] : []));
    expect(spooled.map((e) => e.rows)).toEqual(sizes);
    expect(spooled.map((e) => e.requests).filter((n) => n > 0)).toEqual(Array(10).fill(1));
    const emitted = first.events.flatMap((e) => (e.type === 'chunk-emitted' ? [e.rows] : []));
    expect(emitted).toEqual(sizes);
    // A job only for the chunks that have a request.
    expect(emu.stats().batches.map((b) => b.requestCount)).toEqual(Array(10).fill(1));

    // A rerun on the same state: the same chunks (checked against the stored ones), no new job,
    // the same output.
    const second = await runRows(emu, rows, build, options, requestOptions);
    const again = second.events.flatMap((e) => (e.type === 'chunk-spooled' ? [e] : []));
    expect(again.map((e) => [e.rows, e.requests, e.resumed])).toEqual(
      spooled.map((e) => [e.rows, e.requests, true]),
    );
    expect(second.summary?.jobsCreated).toBe(0);
    expect(emu.stats().batchesCreated).toBe(10);
    expect(second.results).toEqual(first.results);
  });

  it('makes no upload and no job when every row fails, and every row is an error record, in order', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = makeRows(95, () => false);
    const options = { stateDir, ...FAST, maxRequestsPerJob: 10 };
    const first = await runRows(emu, rows, build, options, requestOptions);

    expect(first.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(first.results.every((r) => !r.ok && r.error?.code?.startsWith('GBS_'))).toBe(true);
    expect(first.summary).toMatchObject({ rows: 95, succeeded: 0, failed: 95, chunks: 10, jobsCreated: 0 });
    expect(rowsPerChunk(stateDir)).toEqual([...Array(9).fill(10), 5]);
    const stats = emu.stats();
    expect(stats.batchesCreated).toBe(0);
    expect(stats.calls['upload.start']).toBeUndefined();

    const second = await runRows(emu, rows, build, options, requestOptions);
    expect(second.events.filter((e) => e.type === 'chunk-spooled').every((e) => e.resumed)).toBe(true);
    expect(second.results).toEqual(first.results);
    expect(emu.stats().calls['upload.start']).toBeUndefined();
  });
});
