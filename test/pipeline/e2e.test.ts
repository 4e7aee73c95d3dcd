// The whole pipeline through the real SDK and the emulator: chunking, concurrency, order, the join,
// structured output, and every error-record path.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FAKE_MARKERS, fakeAnswerText } from '../../src/emulator/index.js';
import { GbsError, toRestRequest } from '../../src/index.js';
import { emulators, SDK_VARIANTS, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();
const byId = { key: (row: { id: string }) => row.id };

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

  it('returns parsed, validated structured output with outputSchema, and error records when it does not fit', async () => {
    const emu = await start();
    const schema = z.object({
      sentiment: z.enum(['positive', 'negative', 'neutral']),
      confidence: z.number().min(0).max(1),
    });
    const rows = [
      { id: 'a', text: 'great' },
      { id: 'b', text: `broken ${FAKE_MARKERS.badJson}` },
      { id: 'c', text: `off ${FAKE_MARKERS.offSchema}` },
    ];
    const { results, summary, events } = await runRows(
      emu,
      rows,
      (r) => r.text,
      // The uploaded file is kept, to read back what the emulator received.
      { stateDir: temp(), outputSchema: schema, deleteUploadedFiles: false },
      byId,
    );
    expect(results[0]?.ok).toBe(true);
    expect(schema.parse(results[0]?.output)).toEqual(results[0]?.output);
    expect(results[1]).toMatchObject({ ok: false, error: { stage: 'parse', code: 'GBS_OUTPUT_PARSE' } });
    expect(results[2]).toMatchObject({ ok: false, error: { stage: 'parse', code: 'GBS_OUTPUT_SCHEMA' } });
    expect(results[2]?.error?.message).toContain('sentiment');
    expect(summary?.failedByCode).toEqual({ GBS_OUTPUT_PARSE: 1, GBS_OUTPUT_SCHEMA: 1 });
    // Every request asked for JSON with the schema (as responseJsonSchema, without $schema): read
    // from the file as the emulator stored it.
    const uploaded = events.flatMap((e) => (e.type === 'uploaded' ? [e.file] : []));
    expect(uploaded).toHaveLength(1);
    const sent = readFileSync(join(emu.dir, 'data', (uploaded[0] as string).slice('files/'.length)), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(sent.map((l) => l.key)).toEqual(['a', 'b', 'c']);
    for (const line of sent) {
      expect(line.request.generationConfig).toEqual({
        responseMimeType: 'application/json',
        responseJsonSchema: {
          type: 'object',
          properties: {
            sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] },
            confidence: { type: 'number', minimum: 0, maximum: 1 },
          },
          required: ['sentiment', 'confidence'],
          additionalProperties: false,
        },
      });
    }
  });

  it('turns every kind of bad row or answer into one error record, and the rest still succeed', async () => {
    const emu = await start();
    const rows = [
      { id: 'ok-1', text: 'fine' },
      { id: 'invalid', text: 42 },
      { id: 'throws', text: 'THROW' },
      { id: 'api-error', text: `x ${FAKE_MARKERS.error}` },
      { id: 'blocked', text: `x ${FAKE_MARKERS.blockPrompt}` },
      { id: 'safety', text: `x ${FAKE_MARKERS.safety}` },
      { id: 'truncated', text: `x ${FAKE_MARKERS.maxTokens}` },
      { id: 'empty', text: `x ${FAKE_MARKERS.empty}` },
      { id: 'huge', text: 'y'.repeat(5000) },
      { id: 'ok-2', text: 'also fine' },
    ];
    const { results, summary } = await runRows(
      emu,
      rows,
      (r) => {
        if (r.text === 'THROW') throw new Error('no prompt for you');
        return r.text;
      },
      { stateDir: temp(), maxBytesPerJob: 4096 },
      { key: (r: { id: string }) => r.id, rowSchema: z.object({ id: z.string(), text: z.string() }) },
    );
    const by = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(by['ok-1']?.ok).toBe(true);
    expect(by['ok-2']?.ok).toBe(true);
    expect(by.invalid?.error).toMatchObject({ stage: 'validate', code: 'GBS_ROW_INVALID' });
    expect(by.throws?.error).toMatchObject({ stage: 'build', code: 'GBS_BUILD_FAILED' });
    expect(by.throws?.error?.message).toContain('no prompt for you');
    expect(by['api-error']?.error).toMatchObject({
      stage: 'request',
      code: 'GBS_REQUEST_FAILED',
      reason: 'INVALID_ARGUMENT',
    });
    expect(by.blocked?.error).toMatchObject({ stage: 'request', code: 'GBS_BLOCKED', reason: 'SAFETY' });
    expect(by.blocked?.response).toHaveProperty('promptFeedback');
    expect(by.safety?.error).toMatchObject({ stage: 'request', code: 'GBS_FINISH_REASON', reason: 'SAFETY' });
    expect(by.truncated?.error).toMatchObject({ code: 'GBS_FINISH_REASON', reason: 'MAX_TOKENS' });
    expect(by.truncated?.text).toBeTruthy();
    expect(by.empty?.error).toMatchObject({ code: 'GBS_EMPTY_RESPONSE' });
    expect(by.huge?.error).toMatchObject({ stage: 'chunk', code: 'GBS_REQUEST_TOO_LARGE' });
    expect(summary).toMatchObject({ rows: 10, succeeded: 2, failed: 8 });
  });

  it('stops with GBS_DUPLICATE_KEY before creating the job holding the second key (same chunk)', async () => {
    const emu = await start();
    const rows = [...rowsOf(3), { id: 'id-00001', text: 'again' }];
    const err = await runRows(emu, rows, (r) => r.text, { stateDir: temp() }, byId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).key).toBe('id-00001');
    expect(emu.stats().batchesCreated).toBe(0);
    expect(emu.stats().calls['upload.start']).toBeUndefined();
  });

  it('stops with GBS_DUPLICATE_KEY across chunks, before the chunk holding the second key is submitted', async () => {
    const emu = await start();
    const rows = [...rowsOf(6), { id: 'id-00002', text: 'again' }];
    const err = await runRows(
      emu,
      rows,
      (r) => r.text,
      { stateDir: temp(), maxRequestsPerJob: 3, maxConcurrentJobs: 1 },
      byId,
    ).catch((e: unknown) => e);
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).message).toContain('id-00002');
    // Chunks 0 and 1 (6 rows) may have been submitted; chunk 2 (the duplicate) never was.
    expect(emu.stats().batchesCreated).toBeLessThanOrEqual(2);
  });

  it('confirms key-filter suspects on disk: a saturated filter never fails unique keys, still catches a duplicate', async () => {
    const emu = await start();
    // 64 bytes of filter: after a few keys every key is a suspect and must be checked on disk.
    const tiny = { maxRequestsPerJob: 4, maxConcurrentJobs: 4, keyFilterBytes: 64 };
    const { summary } = await runRows(emu, rowsOf(40), (r) => r.text, { stateDir: temp(), ...tiny }, byId);
    expect(summary).toMatchObject({ rows: 40, succeeded: 40, chunks: 10 });
    const dup = [...rowsOf(30), { id: 'id-00003', text: 'again' }];
    const err = await runRows(emu, dup, (r) => r.text, { stateDir: temp(), ...tiny }, byId).catch(
      (e: unknown) => e,
    );
    expect((err as GbsError).code).toBe('GBS_DUPLICATE_KEY');
    expect((err as GbsError).chunk).toBe(7);
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

  it('passes an empty input through without creating anything', async () => {
    const emu = await start();
    const { results, summary } = await runRows(emu, [], (r) => r.text, { stateDir: temp() });
    expect(results).toEqual([]);
    expect(summary).toMatchObject({ rows: 0, chunks: 0 });
    expect(emu.stats().batchesCreated).toBe(0);
  });

  it('does not create a job for a chunk that holds only error records', async () => {
    const emu = await start();
    const { results } = await runRows(
      emu,
      [{ id: 'a' }, { id: 'b' }],
      () => {
        throw new Error('nope');
      },
      { stateDir: temp() },
      byId,
    );
    expect(results.map((r) => r.error?.code)).toEqual(['GBS_BUILD_FAILED', 'GBS_BUILD_FAILED']);
    expect(emu.stats().batchesCreated).toBe(0);
  });
});

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
