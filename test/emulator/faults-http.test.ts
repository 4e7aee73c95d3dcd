// HTTP fault knobs, through the real SDK (2.x and 3.x) and raw fetch: each action happens exactly on
// the configured call of the configured route, and the emulator otherwise behaves normally.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import type { Emulator, FaultOptions } from '../../src/emulator/index.js';
import { emulators, rawGet, SDK_VARIANTS, type Sdk, tempDirs, until } from '../helpers.js';

const start = emulators();
const temp = tempDirs();

const MODEL = 'gemini-2.5-flash';
const LINE = '{"key":"a","request":{"contents":[{"parts":[{"text":"hello"}]}]}}\n';

async function upload(ai: Sdk, content = LINE): Promise<string> {
  const path = join(temp(), 'in.jsonl');
  writeFileSync(path, content);
  return (await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } })).name ?? '';
}

/** A call's error, or undefined when it succeeded. */
async function failure(p: Promise<unknown>): Promise<any> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function listNames(emu: Emulator, what: 'batches' | 'files'): Promise<string[]> {
  const { body } = await rawGet(emu, `${what}?pageSize=100`);
  return ((what === 'batches' ? body.operations : body.files) ?? []).map((x: { name: string }) => x.name);
}

/** A raw resumable upload session: start, then chunk calls by hand. */
async function startRawUpload(emu: Emulator, size: number): Promise<string> {
  const res = await fetch(`${emu.baseUrl}/upload/v1beta/files`, {
    method: 'POST',
    headers: {
      'x-goog-api-key': emu.apiKey,
      'x-goog-upload-protocol': 'resumable',
      'x-goog-upload-command': 'start',
      'x-goog-upload-header-content-length': String(size),
      'x-goog-upload-header-content-type': 'jsonl',
    },
    body: '{}',
  });
  return res.headers.get('x-goog-upload-url') ?? '';
}

function chunk(emu: Emulator, url: string, command: string, offset: number, body: string) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'x-goog-api-key': emu.apiKey,
      'x-goog-upload-command': command,
      'x-goog-upload-offset': String(offset),
    },
    body,
  });
}

describe.each(SDK_VARIANTS)('HTTP faults with $label', ({ make, apiVersion }) => {
  async function setup(faults: FaultOptions) {
    const emu = await start({ faults });
    return { emu, ai: make(emu.clientOptions(apiVersion)) };
  }

  it('error: only the 2nd create answers 429 with Retry-After and RetryInfo; no job is created for it', async () => {
    const { emu, ai } = await setup({
      http: [
        {
          route: 'batches.create',
          nth: 2,
          action: { type: 'error', status: 429, retryAfterSeconds: 3, retryDelaySeconds: 1.5 },
        },
      ],
    });
    await ai.batches.create({ model: MODEL, src: [{ contents: 'one' }] });
    const err = (await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'two' }] }))) as ApiError;
    expect(err.status).toBe(429);
    expect(JSON.parse(err.message)).toEqual({
      error: {
        code: 429,
        message: 'Resource has been exhausted (e.g. check quota).',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
      },
    });
    await ai.batches.create({ model: MODEL, src: [{ contents: 'three' }] });
    expect(await listNames(emu, 'batches')).toHaveLength(2);
    const stats = emu.stats();
    expect(stats.batchesCreated).toBe(2);
    expect(stats.calls['batches.create']).toEqual({ 200: 2, 429: 1 });
    expect(stats.faultsApplied).toEqual([{ route: 'batches.create', type: 'error', n: 2 }]);
  });

  it('drop: the 1st create loses its connection before handling (no job); the next works', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'drop' } }],
    });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeInstanceOf(TypeError); // fetch failed
    expect(await listNames(emu, 'batches')).toEqual([]);
    await ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] });
    expect(emu.stats()).toMatchObject({
      batchesCreated: 1,
      calls: { 'batches.create': { dropped: 1, 200: 1 } },
    });
  });

  it('dropAfter: the 1st create IS accepted but never answered (scenario 3); list shows the job', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'dropAfter' } }],
    });
    const err = await failure(
      ai.batches.create({ model: MODEL, src: [{ contents: 'x' }], config: { displayName: 'chunk-7' } }),
    );
    expect(err).toBeInstanceOf(TypeError);
    const jobs = (await ai.batches.list({ config: { pageSize: 10 } })).page;
    expect(jobs.map((j) => j.displayName)).toEqual(['chunk-7']);
    expect(emu.stats().batchesCreated).toBe(1);
    expect(emu.stats().faultsApplied).toEqual([{ route: 'batches.create', type: 'dropAfter', n: 1 }]);
  });

  it('badJson: the 1st create answers 200 with an unparsable body, and the job exists', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'badJson' } }],
    });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeInstanceOf(SyntaxError);
    expect(await listNames(emu, 'batches')).toHaveLength(1);
    await ai.batches.create({ model: MODEL, src: [{ contents: 'y' }] });
    expect(await listNames(emu, 'batches')).toHaveLength(2);
  });

  it('truncate: an upload chunk cut mid-way is not stored and the upload fails; the retry uploads', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'upload.chunk', nth: 1, action: { type: 'truncate' } }],
    });
    const err = await failure(upload(ai));
    expect(err).toBeInstanceOf(TypeError);
    expect(await listNames(emu, 'files')).toEqual([]);
    const name = await upload(ai);
    expect((await ai.files.get({ name })).sizeBytes).toBe(String(LINE.length));
    expect(emu.stats().calls['upload.chunk']).toEqual({ dropped: 1, 200: 1 });
  });

  it('expireInput: the 1st create finds its input file gone (403, file deleted); a re-upload works', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'expireInput' } }],
    });
    const src = await upload(ai);
    const err = (await failure(ai.batches.create({ model: MODEL, src }))) as ApiError;
    expect(err.status).toBe(403);
    expect(JSON.parse(err.message).error.status).toBe('PERMISSION_DENIED');
    expect(((await failure(ai.files.get({ name: src }))) as ApiError).status).toBe(403);
    const again = await upload(ai);
    await ai.batches.create({ model: MODEL, src: again });
    expect(emu.stats().batchesCreated).toBe(1);
  });

  it('wrongSize: the 1st finalize keeps half the file and reports that sizeBytes; the next upload is whole', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'upload.chunk', nth: 1, action: { type: 'wrongSize' } }],
    });
    const content = ['a', 'b', 'c', 'd'].map((key) => LINE.replace('"a"', `"${key}"`)).join('');
    const path = join(temp(), 'in.jsonl');
    writeFileSync(path, content);
    const short = await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } });
    expect(short.sizeBytes).toBe(String(content.length / 2));
    expect((await ai.files.get({ name: short.name ?? '' })).sizeBytes).toBe(String(content.length / 2));
    // What the server kept is the first half: a job from it has two requests of the four.
    await ai.batches.create({ model: MODEL, src: short.name ?? '' });
    const whole = await upload(ai, content);
    expect((await ai.files.get({ name: whole })).sizeBytes).toBe(String(content.length));
    await ai.batches.create({ model: MODEL, src: whole });
    expect(emu.stats().batches.map((b) => b.requestCount)).toEqual([2, 4]);
    expect(emu.stats().faultsApplied).toEqual([{ route: 'upload.chunk', type: 'wrongSize', n: 1 }]);
  });
});

describe('HTTP faults over raw HTTP', () => {
  it('error on every route with `*` and nth 1: each route fails once, then works; 503 carries Retry-After', async () => {
    const emu = await start({
      faults: {
        http: [{ route: '*', nth: 1, action: { type: 'error', status: 503, retryAfterSeconds: 0 } }],
      },
    });
    for (const path of ['batches', 'files']) {
      const first = await fetch(`${emu.baseUrl}/v1beta/${path}`, { headers: { 'x-goog-api-key': 'k' } });
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBe('0');
      expect(await first.json()).toEqual({
        error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
      });
      expect((await rawGet(emu, path)).status).toBe(200);
    }
    expect(emu.stats().faultsApplied).toEqual([
      { route: 'batches.list', type: 'error', n: 1 },
      { route: 'files.list', type: 'error', n: 1 },
    ]);
  });

  it('nth as a list with times: calls 2, 3 and 5 fail, the others do not', async () => {
    const emu = await start({
      faults: {
        http: [{ route: 'batches.list', nth: [2, 5], times: 2, action: { type: 'error', status: 500 } }],
      },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await rawGet(emu, 'batches')).status);
    expect(statuses).toEqual([200, 500, 500, 200, 500, 500, 200]);
  });

  it('delay: the 1st get is answered after the delay; a client timeout then sees nothing, yet the create happened', async () => {
    const emu = await start({
      faults: {
        http: [
          { route: 'batches.list', nth: 1, action: { type: 'delay', ms: 300 } },
          { route: 'batches.create', nth: 1, action: { type: 'delay', ms: 400 } },
        ],
      },
    });
    let t = Date.now();
    expect((await rawGet(emu, 'batches')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    t = Date.now();
    await rawGet(emu, 'batches');
    expect(Date.now() - t).toBeLessThan(200);

    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: emu.baseUrl, timeout: 100 } });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeDefined();
    expect(emu.stats().batchesCreated).toBe(1);
  });

  it('truncate: a download sends half the file with the full content-length, then breaks off', async () => {
    const emu = await start({
      faults: { http: [{ route: 'files.download', nth: 1, action: { type: 'truncate' } }] },
    });
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI(emu.clientOptions());
    const lines = Array.from({ length: 50 }, (_, i) => LINE.replace('"a"', `"k${i}"`)).join('');
    const src = await upload(ai, lines);
    const job = await ai.batches.create({ model: MODEL, src });
    let output = '';
    for (;;) {
      const j = await ai.batches.get({ name: job.name ?? '' });
      if (j.state === 'JOB_STATE_SUCCEEDED') {
        output = j.dest?.fileName ?? '';
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = `${emu.baseUrl}/v1beta/${output}:download?alt=media`;
    const res = await fetch(url, { headers: { 'x-goog-api-key': 'k' } });
    const size = Number(res.headers.get('content-length'));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let got = 0;
    const err = await failure(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          got += value.length;
        }
      })(),
    );
    expect(err).toBeInstanceOf(TypeError); // terminated
    expect(got).toBe(Math.floor(size / 2));
    const whole = await fetch(url, { headers: { 'x-goog-api-key': 'k' } }).then((r) => r.text());
    expect(whole.length).toBe(size);
    await until(async () => emu.stats().calls['files.download']?.[200] === 1);
    expect(emu.stats().calls['files.download']).toEqual({ dropped: 1, 200: 1 });
  });

  it('truncate with bytes on an upload chunk: the offset stays where it was', async () => {
    const emu = await start({
      faults: { http: [{ route: 'upload.chunk', nth: 1, action: { type: 'truncate', bytes: 3 } }] },
    });
    const url = await startRawUpload(emu, 10);
    expect(await failure(chunk(emu, url, 'upload', 0, 'abcdef'))).toBeInstanceOf(TypeError);
    const query = await chunk(emu, url, 'query', 0, '');
    expect(query.headers.get('x-goog-upload-size-received')).toBe('0');
    const done = await chunk(emu, url, 'upload, finalize', 0, '0123456789');
    expect(done.headers.get('x-goog-upload-status')).toBe('final');
  });

  it('noUploadStatus: the final chunk is accepted but answered without the header; a resend gets `final`', async () => {
    const emu = await start({
      faults: { http: [{ route: 'upload.chunk', nth: 1, action: { type: 'noUploadStatus' } }] },
    });
    const url = await startRawUpload(emu, 4);
    const first = await chunk(emu, url, 'upload, finalize', 0, 'abcd');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-goog-upload-status')).toBeNull();
    const file = ((await first.json()) as any).file;
    expect(file.sizeBytes).toBe('4');
    const again = await chunk(emu, url, 'upload, finalize', 0, 'abcd');
    expect(again.headers.get('x-goog-upload-status')).toBe('final');
    expect(((await again.json()) as any).file.name).toBe(file.name);
    expect(await listNames(emu, 'files')).toEqual([file.name]);
  });

  it('noUploadStatus through the SDK: its own retry (after 1 s) gets `final`, one file is stored', async () => {
    const emu = await start({
      faults: { http: [{ route: 'upload.chunk', nth: 1, action: { type: 'noUploadStatus' } }] },
    });
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI(emu.clientOptions());
    const name = await upload(ai);
    expect(await listNames(emu, 'files')).toEqual([name]);
    expect(emu.stats().calls['upload.chunk']).toEqual({ 200: 2 });
  });

  it('badJson on the final upload chunk: `final` with an unparsable body, the file IS stored', async () => {
    const emu = await start({
      faults: { http: [{ route: 'upload.chunk', nth: 1, action: { type: 'badJson' } }] },
    });
    const url = await startRawUpload(emu, 4);
    const res = await chunk(emu, url, 'upload, finalize', 0, 'abcd');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-goog-upload-status')).toBe('final');
    await expect(res.json()).rejects.toThrow(SyntaxError);
    expect(await listNames(emu, 'files')).toHaveLength(1);
  });
});
