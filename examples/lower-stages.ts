// geminiBatch taken apart: createBatchRun + chunkRequests → submitBatches → joinResults in your own
// pipeline, with a stage of yours in between, `ordered: false`, and the counts in `run.summary`.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import {
  type BatchResult,
  type CompletedChunk,
  chunkRequests,
  createBatchRun,
  joinResults,
  submitBatches,
  toRequests,
} from 'gemini-batch-stream';
import { FAKE_MARKERS, startEmulator } from 'gemini-batch-stream/emulator';

const ROWS = 100;
const PER_JOB = 15; // 7 jobs
// Every 25th prompt makes the fake model answer with a per-request error, to see failures counted.
const rows = Array.from({ length: ROWS }, (_, i) => ({
  sku: `SKU-${String(i).padStart(4, '0')}`,
  title: `Widget model ${i}${i % 25 === 24 ? ` ${FAKE_MARKERS.error}` : ''}`,
}));
type Product = (typeof rows)[number];

const dir = mkdtempSync(join(tmpdir(), 'gbs-example-'));
const emulator = await startEmulator();
try {
  const run = createBatchRun({
    client: new GoogleGenAI(emulator.clientOptions()),
    model: 'gemini-2.5-flash',
    stateDir: join(dir, 'state'),
    maxRequestsPerJob: PER_JOB,
    maxConcurrentJobs: 3,
    ordered: false, // chunks are joined as their jobs finish, not in input order
    pollIntervalMs: 10,
  });

  // A stage of your own between submit and join: it sees each chunk once its results are on disk.
  const finishedChunks: number[] = [];
  const watch = new Transform({
    objectMode: true,
    transform(done: CompletedChunk, _encoding, callback) {
      finishedChunks.push(done.ref.index);
      callback(null, done);
    },
  });

  const results: BatchResult[] = [];
  await pipeline(
    Readable.from(rows),
    toRequests<Product>((p) => `Write a product description for ${p.title}.`, { key: (p) => p.sku }),
    chunkRequests(run),
    submitBatches(run),
    watch,
    joinResults(run),
    new Writable({
      objectMode: true,
      write(result: BatchResult, _encoding, callback) {
        results.push(result);
        callback();
      },
    }),
  );

  const chunks = Math.ceil(ROWS / PER_JOB);
  assert.deepEqual(
    [...finishedChunks].sort((a, b) => a - b),
    [...Array(chunks).keys()],
  );
  const keys = results.map((r) => r.key);
  assert.equal(new Set(keys).size, ROWS, 'no key twice');
  assert.deepEqual([...keys].sort(), rows.map((r) => r.sku).sort(), 'every key once');

  const failed = results.filter((r) => !r.ok);
  assert.equal(failed.length, ROWS / 25);
  for (const r of failed) assert.equal(r.error?.code, 'GBS_REQUEST_FAILED');

  const s = run.summary;
  assert.equal(s.rows, ROWS);
  assert.equal(s.succeeded, ROWS - failed.length);
  assert.equal(s.failed, failed.length);
  assert.deepEqual(s.failedByCode, { GBS_REQUEST_FAILED: failed.length });
  assert.equal(s.chunks, chunks);
  assert.equal(s.jobsCreated, chunks);
  assert.equal(s.jobsAdopted, 0);
  assert.equal(
    s.usage.totalTokens,
    results.reduce((sum, r) => sum + (r.usage?.totalTokens ?? 0), 0),
  );
  console.log(
    `ok: ${s.rows} keys once each over ${s.jobsCreated} jobs (chunks done: ${finishedChunks.join(',')}),` +
      ` ${s.succeeded} succeeded, ${s.failed} failed as expected`,
  );
} finally {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
