// The Batch API through the real SDK (2.x and 3.x, v1beta and v1) against the emulator.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { emulators, rawGet, readJsonl, SDK_VARIANTS, type Sdk, tempDirs, until } from '../helpers.js';

const start = emulators();
const temp = tempDirs();

function line(key: string, text: string, extra: object = {}): string {
  return JSON.stringify({ key, request: { contents: [{ parts: [{ text }], role: 'user' }], ...extra } });
}

async function uploadLines(ai: Sdk, lines: string[]): Promise<string> {
  const path = join(temp(), 'in.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  const file = await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } });
  return file.name ?? '';
}

async function waitState(ai: Sdk, name: string, state: string) {
  return until(async () => {
    const job = await ai.batches.get({ name });
    return job.state === state ? job : undefined;
  });
}

describe.each(SDK_VARIANTS)('Batch API with $label', ({ make, apiVersion, wire, upload }) => {
  async function setup(options = {}) {
    const paths: string[] = [];
    const emu = await start({ ...options, log: (l) => paths.push(l.split(' ')[1] ?? '') });
    const ai = make(emu.clientOptions(apiVersion));
    return { emu, ai, paths };
  }

  it('runs a file job PENDING → RUNNING → SUCCEEDED with batchStats moving, results joined by key', async () => {
    const { emu, ai, paths } = await setup({ pendingMs: 150, runningMs: 600 });
    const lines = Array.from({ length: 20 }, (_, i) => line(`k${i}`, `prompt number ${i}`));
    const src = await uploadLines(ai, lines);
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash',
      src,
      config: { displayName: 'states' },
    });
    expect(job).toMatchObject({
      state: 'JOB_STATE_PENDING',
      displayName: 'states',
      model: 'models/gemini-2.5-flash',
    });
    const id = (job.name ?? '').slice('batches/'.length);
    expect(id).toMatch(/^[a-z0-9]{36}$/);

    const created = await rawGet(emu, `batches/${id}`);
    expect(created.body.metadata).toMatchObject({
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      inputConfig: { fileName: src },
      batchStats: { requestCount: '20', pendingRequestCount: '20' },
      state: 'BATCH_STATE_PENDING',
    });
    expect(created.body.done).toBeUndefined();

    await waitState(ai, job.name ?? '', 'JOB_STATE_RUNNING');
    const midway = await until(async () => {
      const r = await rawGet(emu, `batches/${id}`);
      return r.body.metadata.batchStats.successfulRequestCount ? r : undefined;
    });
    expect(Number(midway.body.metadata.batchStats.successfulRequestCount)).toBeLessThan(20);

    const done = await waitState(ai, job.name ?? '', 'JOB_STATE_SUCCEEDED');
    const final = await rawGet(emu, `batches/${id}`);
    expect(final.body.done).toBe(true);
    expect(final.body.metadata.batchStats).toEqual({ requestCount: '20', successfulRequestCount: '20' });
    expect(final.body.response).toEqual({
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput',
      responsesFile: `files/batch-${id}`,
    });
    const out = join(temp(), 'out.jsonl');
    await ai.files.download({ file: done.dest?.fileName ?? '', downloadPath: out });
    const results = readJsonl(out);
    expect(results).toHaveLength(20);
    for (const r of results) {
      const i = Number(r.key.slice(1));
      const request = JSON.parse(lines[i] ?? '').request;
      expect(r.response.candidates[0].content.parts[0].text).toBe(fakeAnswerText(request));
      expect(Object.keys(r)).toEqual(['response', 'key']);
    }
    expect(paths).toContain(`/${wire}/models/gemini-2.5-flash:batchGenerateContent`);
    expect(paths).toContain(`/upload/${upload}/files`);
    expect(paths).toContain(`/${wire}/batches/${id}`);
  });

  it('runs an inline job and returns inlinedResponses with metadata, mirrored in response', async () => {
    const { emu, ai } = await setup();
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash',
      src: [
        {
          contents: 'Tell me a joke',
          metadata: { key: 'request-1' },
          config: { systemInstruction: 'You are a cat', temperature: 0.5 },
        },
        { contents: 'Why is the sky blue? [[fake:error]]', metadata: { key: 'request-2' } },
      ],
      config: { displayName: 'inline-job' },
    });
    const done = await waitState(ai, job.name ?? '', 'JOB_STATE_SUCCEEDED');
    const inlined = done.dest?.inlinedResponses ?? [];
    expect(inlined).toHaveLength(2);
    expect(inlined[0]?.metadata).toEqual({ key: 'request-1' });
    expect(inlined[0]?.response?.candidates?.[0]?.content?.parts?.[0]?.text).toMatch(
      /^echo [0-9a-f]{8}: Tell me a joke$/,
    );
    expect(inlined[1]?.error).toEqual({ code: 3, message: 'Request contains an invalid argument.' });
    const raw = await rawGet(emu, job.name ?? '');
    expect(raw.body.metadata.batchStats).toEqual({
      requestCount: '2',
      successfulRequestCount: '1',
      failedRequestCount: '1',
    });
    expect(raw.body.response.inlinedResponses).toEqual(raw.body.metadata.output.inlinedResponses);
    expect(raw.body.metadata.inputConfig).toBeUndefined();
  });

  it('lists batches across pages (no inline results in the list)', async () => {
    const { ai } = await setup();
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const job = await ai.batches.create({
        model: 'gemini-2.5-flash',
        src: [{ contents: `n${i}` }],
        config: { displayName: `list-${i}` },
      });
      names.add(job.name ?? '');
    }
    for (const n of names) await waitState(ai, n, 'JOB_STATE_SUCCEEDED');
    const pager = await ai.batches.list({ config: { pageSize: 2 } });
    const seen: string[] = [];
    for await (const job of pager) {
      seen.push(job.name ?? '');
      expect(job.dest?.inlinedResponses).toBeUndefined();
    }
    expect(new Set(seen)).toEqual(names);
  });

  it('cancels a running job: CANCELLED with error code 1 and the partial results kept', async () => {
    const { emu, ai } = await setup({ runningMs: 3000 });
    const src = await uploadLines(
      ai,
      Array.from({ length: 30 }, (_, i) => line(`k${i}`, `p${i}`)),
    );
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src });
    await until(async () => {
      const r = await rawGet(emu, job.name ?? '');
      return Number(r.body.metadata.batchStats.successfulRequestCount ?? 0) >= 3;
    });
    await ai.batches.cancel({ name: job.name ?? '' });
    const cancelled = await ai.batches.get({ name: job.name ?? '' });
    expect(cancelled.state).toBe('JOB_STATE_CANCELLED');
    const raw = await rawGet(emu, job.name ?? '');
    expect(raw.body.error).toEqual({ code: 1, message: 'The batch was cancelled.' });
    expect(raw.body.done).toBe(true);
    expect(raw.body.response).toBeUndefined();
    const done = Number(raw.body.metadata.batchStats.successfulRequestCount);
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(30);
    const out = join(temp(), 'partial.jsonl');
    await ai.files.download({ file: cancelled.dest?.fileName ?? '', downloadPath: out });
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(done);
  });

  it('deletes a batch ({} body): it leaves the list and get answers 404', async () => {
    const { ai } = await setup({ pendingMs: 60_000 });
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'x' }] });
    await ai.batches.delete({ name: job.name ?? '' });
    const err = (await ai.batches.get({ name: job.name ?? '' }).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(404);
    expect(JSON.parse(err.message)).toEqual({
      error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' },
    });
  });

  it('creates embedding batches inline and from a file (file_name on the wire)', async () => {
    const { emu, ai } = await setup({ embeddingDimensions: 8 });
    const inline = await ai.batches.createEmbeddings({
      model: 'gemini-embedding-001',
      src: { inlinedRequests: { contents: ['a', 'b'], config: { outputDimensionality: 5 } } },
      config: { displayName: 'emb' },
    });
    const done = await waitState(ai, inline.name ?? '', 'JOB_STATE_SUCCEEDED');
    expect(done.dest?.inlinedEmbedContentResponses).toHaveLength(2);
    expect(done.dest?.inlinedEmbedContentResponses?.[0]?.response?.embedding?.values).toHaveLength(5);

    const path = join(temp(), 'emb.jsonl');
    writeFileSync(
      path,
      '{"key":"request_1","request":{"output_dimensionality":3,"content":{"parts":[{"text":"1"}]}}}\n',
    );
    const file = await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } });
    const fromFile = await ai.batches.createEmbeddings({
      model: 'gemini-embedding-001',
      src: { fileName: file.name ?? '' },
    });
    const fileDone = await waitState(ai, fromFile.name ?? '', 'JOB_STATE_SUCCEEDED');
    const raw = await rawGet(emu, fromFile.name ?? '');
    expect(raw.body.metadata['@type']).toBe(
      'type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch',
    );
    const out = join(temp(), 'emb.out.jsonl');
    await ai.files.download({ file: fileDone.dest?.fileName ?? '', downloadPath: out });
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.key).toBe('request_1');
    expect(result.response.tokenCount).toBe('1');
    expect(result.response.embedding.values).toHaveLength(3);
  });

  it('turns structurally bad lines into per-line errors and counts them as failed', async () => {
    const { emu, ai } = await setup();
    const src = await uploadLines(ai, [
      line('good', 'fine'),
      JSON.stringify({ request: { contents: [{ parts: [{ text: 'no key' }] }] } }),
      JSON.stringify({ key: 'no-request' }),
      JSON.stringify({ key: 'no-contents', request: { generationConfig: {} } }),
      JSON.stringify({
        key: 'top-level-field',
        request: { contents: [{ parts: [{ text: 'x' }] }], temperature: 1 },
      }),
    ]);
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src });
    const done = await waitState(ai, job.name ?? '', 'JOB_STATE_SUCCEEDED');
    const out = join(temp(), 'out.jsonl');
    await ai.files.download({ file: done.dest?.fileName ?? '', downloadPath: out });
    const results = readJsonl(out);
    expect(results.map((r) => [r.key, r.error?.code ?? 'ok'])).toEqual([
      ['good', 'ok'],
      [undefined, 3],
      ['no-request', 3],
      ['no-contents', 3],
      ['top-level-field', 3],
    ]);
    expect(results[4].error.message).toBe(
      `Invalid JSON payload received. Unknown name "temperature" at 'request': Cannot find field.`,
    );
    const raw = await rawGet(emu, job.name ?? '');
    expect(raw.body.metadata.batchStats).toEqual({
      requestCount: '5',
      successfulRequestCount: '1',
      failedRequestCount: '4',
    });
  });

  it('refuses a file with an unparsable line at create (400 INVALID_ARGUMENT, no job)', async () => {
    const { emu, ai } = await setup();
    const src = await uploadLines(ai, [line('a', 'x'), '{"key": "b", "request": {']);
    const err = (await ai.batches
      .create({ model: 'gemini-2.5-flash', src })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(400);
    const body = JSON.parse(err.message);
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toMatch(/^Error on line 2: invalid JSON/);
    expect(emu.stats().batchesCreated).toBe(0);
  });

  it('refuses a create naming an unknown file with 403 PERMISSION_DENIED', async () => {
    const { ai } = await setup();
    const err = (await ai.batches
      .create({ model: 'gemini-2.5-flash', src: 'files/doesnotexist' })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(403);
    expect(JSON.parse(err.message).error.status).toBe('PERMISSION_DENIED');
  });

  it('expires a job that stays pending past expireAfterMs, with no results', async () => {
    const { emu, ai } = await setup({ pendingMs: 60_000, expireAfterMs: 300 });
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'x' }] });
    const expired = await waitState(ai, job.name ?? '', 'JOB_STATE_EXPIRED');
    expect(expired.dest).toBeUndefined();
    const raw = await rawGet(emu, job.name ?? '');
    expect(raw.body.error.code).toBe(4);
  });

  it('answers 429 RESOURCE_EXHAUSTED when too many batches are active', async () => {
    const { ai } = await setup({ pendingMs: 60_000, maxActiveBatches: 2 });
    await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'a' }] });
    await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'b' }] });
    const err = (await ai.batches
      .create({ model: 'gemini-2.5-flash', src: [{ contents: 'c' }] })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(429);
    expect(JSON.parse(err.message).error.status).toBe('RESOURCE_EXHAUSTED');
  });

  it('serves generateContent and countTokens from the same fake model', async () => {
    const { ai } = await setup();
    const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello there' });
    expect(res.text).toMatch(/^echo [0-9a-f]{8}: hello there$/);
    expect(res.usageMetadata?.promptTokenCount).toBe(3);
    const count = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'hello there' });
    expect(count.totalTokens).toBe(3);
  });
});
