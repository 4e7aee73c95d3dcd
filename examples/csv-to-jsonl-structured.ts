// CSV in, JSONL out, with structured output: `outputSchema` (zod) asks the model for JSON and
// each result carries the parsed, validated `output`, in input order, one line per input row.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { GoogleGenAI } from '@google/genai';
import { parse } from 'csv-parse/sync';
import { csvSource, geminiBatch, jsonlSink, toRequests } from 'gemini-batch-stream';
import { startEmulator } from 'gemini-batch-stream/emulator';
import { z } from 'zod';

const input = fileURLToPath(new URL('../fixtures/reviews.csv', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gbs-example-'));
const output = join(dir, 'reviews.out.jsonl');
const emulator = await startEmulator();

/** The CSV's columns (csvSource yields strings; toRequests is told the row type). */
type Review = { id: string; product: string; rating: string; review: string };

const Analysis = z.object({
  sentiment: z.enum(['positive', 'negative', 'neutral']),
  confidence: z.number().min(0).max(1),
  topics: z.array(z.string()).max(3),
});

try {
  await pipeline(
    csvSource(input),
    toRequests<Review>((row) => `Analyse this review of the ${row.product}:\n${row.review}`, {
      key: (row) => row.id,
    }),
    geminiBatch({
      client: new GoogleGenAI(emulator.clientOptions()),
      model: 'gemini-2.5-flash',
      stateDir: join(dir, 'state'),
      outputSchema: Analysis,
      maxRequestsPerJob: 500, // 6 jobs for the 3000 rows
      pollIntervalMs: 10,
    }),
    jsonlSink(output),
  );

  const expected = (parse(readFileSync(input), { columns: true }) as Array<{ id: string }>).map((r) => r.id);
  const results = readFileSync(output, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    results.map((r) => r.key),
    expected,
    'every row once, in input order',
  );
  for (const r of results) {
    assert.equal(r.ok, true, `row ${r.key} failed: ${JSON.stringify(r.error)}`);
    assert.deepEqual(Analysis.parse(r.output), r.output);
    assert.deepEqual(JSON.parse(r.text), r.output, 'output is the parsed text');
  }
  console.log(`ok: ${results.length} rows in input order, each with an output matching the schema`);
} finally {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
