// Fault scenarios 1–3 of gemini-batch-faults.md: a broken upload, a 429 on create, a create whose
// answer is lost although the server created the job.

import { describe, expect, it } from 'vitest';
import { GbsError } from '../../src/index.js';
import { emulators, rawGet, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';
import { byId, chunkStates, FAST, fired, jobsByChunk, prompt, runScenario, warnings } from './invariants.js';

const start = emulators();
const temp = tempDirs();

describe('fault scenarios: upload and create', () => {
  it('#1 an interrupted upload, a final chunk without upload status, an unparsable upload answer: retried, no job from a partial file', async () => {
    const emu = await start({
      faults: {
        http: [
          { route: 'upload.start', nth: 1, action: { type: 'error', status: 503, retryAfterSeconds: 0 } },
          { route: 'upload.start', nth: 2, action: { type: 'truncate' } },
          { route: 'upload.chunk', nth: 1, action: { type: 'truncate' } },
          { route: 'upload.chunk', nth: 3, action: { type: 'noUploadStatus' } },
          { route: 'upload.chunk', nth: 5, action: { type: 'badJson' } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(12);
    const { results, events } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 4, maxConcurrentJobs: 1 },
      { maxJobsPerChunk: 1 },
    );
    expect(fired(emu, 'error')).toBe(1);
    expect(fired(emu, 'truncate')).toBe(2);
    expect(fired(emu, 'noUploadStatus')).toBe(1);
    expect(fired(emu, 'badJson')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    // Every job was created from a whole file: it holds exactly the chunk's requests.
    const states = chunkStates(stateDir);
    const byName = new Map(emu.stats().batches.map((b) => [b.name, b]));
    for (const s of states) {
      const job = byName.get(s.attempts[0]?.job ?? '');
      expect(job?.requestCount, `chunk ${s.index}`).toBe(s.requests);
    }
    expect(emu.stats().batchesCreated).toBe(3);
    // The failed uploads were retried by the library (the SDK does not retry them itself).
    expect(
      events.filter((e) => e.type === 'retry' && e.operation === 'files.upload').length,
    ).toBeGreaterThanOrEqual(2);
    // Our files are deleted once the results are safe (the project's storage is capped), also the
    // copy the server stored although its answer could not be read (it carries the chunk's display name).
    const left = (await rawGet(emu, 'files')).body.files?.filter(
      (f: { source?: string }) => f.source === 'UPLOADED',
    );
    expect(left ?? [], 'uploaded request files left behind').toEqual([]);
  });

  it('#1 the server keeps a short file (its sizeBytes is not the local size) on the first upload: retried, no job from the short file', async () => {
    const emu = await start({
      faults: { http: [{ route: 'upload.chunk', nth: 1, action: { type: 'wrongSize' } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'wrongSize')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    const retries = events.filter((e) => e.type === 'retry' && e.operation === 'files.upload');
    expect(retries.map((e) => e.type === 'retry' && e.error)).toEqual([
      expect.stringMatching(/^the uploaded file has \d+ bytes, the local file \d+$/),
    ]);
    // One job, created from the whole file of the second upload (the short copy was deleted, not adopted).
    const [state] = chunkStates(stateDir);
    const uploaded = events.filter((e) => e.type === 'uploaded');
    expect(uploaded).toHaveLength(1);
    expect(emu.stats().batchesCreated).toBe(1);
    const [job] = emu.stats().batches;
    expect(job?.requestCount).toBe(state?.requests);
    const operation = (await rawGet(emu, job?.name ?? '')).body;
    expect(operation.metadata.inputConfig.fileName).toBe(
      uploaded[0]?.type === 'uploaded' && uploaded[0].file,
    );
    expect(emu.stats().calls['files.delete']).toEqual({ 200: 2 });
  });

  it('#1 the server keeps a short file on every upload: the run stops with GBS_UPLOAD_FAILED, no job created', async () => {
    const emu = await start({ faults: { http: [{ route: 'upload.chunk', action: { type: 'wrongSize' } }] } });
    const err = await runRows(emu, rowsOf(6), prompt, { stateDir: temp(), ...FAST }, byId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GbsError);
    expect(err).toMatchObject({ code: 'GBS_UPLOAD_FAILED', chunk: 0 });
    expect((err as GbsError).message).toMatch(/^the uploaded file has \d+ bytes, the local file \d+$/);
    expect(fired(emu, 'wrongSize')).toBe(FAST.retry.retries + 1);
    expect(emu.stats().batchesCreated).toBe(0);
    expect(emu.stats().calls['batches.create']).toBeUndefined();
  });

  it('#2 batchGenerateContent answers 429 RESOURCE_EXHAUSTED twice, then succeeds: the retries wait what Retry-After / RetryInfo ask, one job', async () => {
    const creates: Array<{ start: number; end: number }> = [];
    const emu = await start({
      faults: {
        http: [
          { route: 'batches.create', nth: 1, action: { type: 'error', status: 429, retryAfterSeconds: 1 } },
          { route: 'batches.create', nth: 2, action: { type: 'error', status: 429, retryDelaySeconds: 0.6 } },
        ],
      },
      // One line per call when its answer has gone out, with the time it took: each create's span.
      log: (line) => {
        const took = / (\d+)ms/.exec(line);
        if (/:batchGenerateContent /.test(line) && took) {
          const end = Date.now();
          creates.push({ start: end - Number(took[1]), end });
        }
      },
    });
    const stateDir = temp();
    const rows = rowsOf(6);
    const { results, events } = await runScenario(emu, rows, { stateDir }, { maxJobsPerChunk: 1 });
    expect(fired(emu, 'error')).toBe(2);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(emu.stats().calls['batches.create']).toEqual({ 200: 1, 429: 2 });
    expect(emu.stats().batchesCreated).toBe(1);
    expect(creates).toHaveLength(3);
    const [a, b, c] = creates as [(typeof creates)[0], (typeof creates)[0], (typeof creates)[0]];
    // Never two creates in flight for the chunk: each starts after the one before has answered,
    // and waits at least what that answer asked.
    expect(b.start - a.end, 'the retry after Retry-After: 1').toBeGreaterThanOrEqual(1000 - 5);
    expect(c.start - b.end, 'the retry after RetryInfo 0.6s').toBeGreaterThanOrEqual(600 - 5);
    const retries = events.filter((e) => e.type === 'retry' && e.operation === 'batches.create');
    expect(retries.map((e) => e.type === 'retry' && e.delayMs)).toEqual([1000, 600]);
  });

  it('#3 the create answer is lost (connection dropped after the job was made): the job is adopted by display name, not created twice', async () => {
    const emu = await start({
      faults: {
        http: [
          // Chunk 1's create: the job is made, the connection dropped before the answer.
          { route: 'batches.create', nth: 2, action: { type: 'dropAfter' } },
          // Chunk 2's create: the job is made, its answer broken off half-way.
          { route: 'batches.create', nth: 3, action: { type: 'truncate' } },
        ],
      },
    });
    const stateDir = temp();
    const rows = rowsOf(12);
    const { results, summary, events } = await runScenario(
      emu,
      rows,
      { stateDir, maxRequestsPerJob: 3, maxConcurrentJobs: 1 },
      { maxJobsPerChunk: 1 },
    );
    expect(fired(emu, 'dropAfter')).toBe(1);
    expect(fired(emu, 'truncate')).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    // Four chunks, four jobs: the creates whose answers were lost were not made again.
    expect(emu.stats().batchesCreated).toBe(4);
    expect(emu.stats().calls['batches.create']).toEqual({ 200: 2, dropped: 2 });
    expect(summary).toMatchObject({ chunks: 4, jobsCreated: 2, jobsAdopted: 2 });
    const adopted = events.filter((e) => e.type === 'job-created' && e.adopted);
    expect(adopted.map((e) => e.type === 'job-created' && e.chunk)).toEqual([1, 2]);
    const jobs = jobsByChunk(emu, stateDir);
    for (const chunk of [0, 1, 2, 3]) expect(jobs.get(chunk), `chunk ${chunk}`).toHaveLength(1);
    expect(warnings(events, 'RESUBMIT')).toEqual([]);
  });

  it('#3 an adopted job waits from its creation on the server, not from when it was found', async () => {
    const emu = await start({
      pendingMs: 2000,
      faults: { http: [{ route: 'batches.create', nth: 1, action: { type: 'dropAfter' } }] },
    });
    const stateDir = temp();
    // The retry that finds the job comes at least 500 ms after the create that made it.
    const retry = { retries: 4, minTimeoutMs: 500, maxTimeoutMs: 500 };
    const { events, summary } = await runScenario(
      emu,
      rowsOf(3),
      { stateDir, retry, jobDeadlineMs: 60_000 },
      { maxJobsPerChunk: 1 },
    );
    expect(summary).toMatchObject({ jobsCreated: 0, jobsAdopted: 1 });
    const first = events.find((e) => e.type === 'job-state');
    expect(first).toMatchObject({ state: 'JOB_STATE_PENDING' });
    expect(first?.type === 'job-state' && first.waitedMs).toBeGreaterThanOrEqual(500);
    // The state records the server's createTime.
    const [job] = (await rawGet(emu, 'batches')).body.operations;
    expect(chunkStates(stateDir)[0]?.attempts[0]?.createdAt).toBe(job.metadata.createTime);
  });
});
