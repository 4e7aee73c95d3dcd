// Wire details checked over raw HTTP: keys, error bodies, the resumable upload protocol's edges,
// limits, and persistence across an emulator restart.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '@google/genai';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { emulators, rawGet, tempDirs, until } from '../helpers.js';

const start = emulators();
const temp = tempDirs();

async function post(url: string, headers: Record<string, string>, body?: string | Buffer) {
  const res = await fetch(url, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

describe('API keys', () => {
  it('answers 403 PERMISSION_DENIED without a key, in the real shape', async () => {
    const emu = await start();
    const res = await fetch(`${emu.baseUrl}/v1beta/batches`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({
      error: {
        code: 403,
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        status: 'PERMISSION_DENIED',
      },
    });
  });

  it('answers 400 API_KEY_INVALID for a wrong key, which the SDK turns into ApiError', async () => {
    const emu = await start({ apiKey: 'right-key' });
    const ai = new GoogleGenAI({ apiKey: 'wrong-key', httpOptions: { baseUrl: emu.baseUrl } });
    const err = (await ai.batches.list().catch((e: unknown) => e)) as ApiError;
    expect(err.name).toBe('ApiError');
    expect(err.status).toBe(400);
    const body = JSON.parse(err.message);
    expect(body.error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: 'API key not valid. Please pass a valid API key.',
    });
    expect(body.error.details[0]).toMatchObject({ reason: 'API_KEY_INVALID', domain: 'googleapis.com' });
    const ok = new GoogleGenAI(emu.clientOptions());
    await expect(ok.batches.list()).resolves.toBeDefined();
  });

  it('accepts ?key= like the curl samples, and never writes a key to its log', async () => {
    const lines: string[] = [];
    const emu = await start({ apiKey: 'not-a-real-key-SECRET', log: (l) => lines.push(l) });
    const res = await fetch(`${emu.baseUrl}/v1beta/batches?key=not-a-real-key-SECRET`);
    expect(res.status).toBe(200);
    await fetch(`${emu.baseUrl}/v1beta/batches`, { headers: { 'x-goog-api-key': 'not-a-real-key-SECRET' } });
    await fetch(`${emu.baseUrl}/v1beta/batches?key=not-a-real-key-SECRET-wrong`);
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('SECRET');
    expect(lines[0]).toContain('key=REDACTED');
  });
});

describe('resumable upload protocol', () => {
  const key = { 'x-goog-api-key': 'k' };
  async function startUpload(baseUrl: string, size: number) {
    return post(
      `${baseUrl}/upload/v1beta/files`,
      {
        ...key,
        'content-type': 'application/json',
        'x-goog-upload-protocol': 'resumable',
        'x-goog-upload-command': 'start',
        'x-goog-upload-header-content-length': String(size),
        'x-goog-upload-header-content-type': 'jsonl',
      },
      JSON.stringify({ file: { displayName: 'd', sizeBytes: String(size) } }),
    );
  }

  it('hands out an absolute upload URL and tracks offsets; query reports bytes received', async () => {
    const emu = await start();
    const started = await startUpload(emu.baseUrl, 10);
    expect(started.status).toBe(200);
    const url = started.headers.get('x-goog-upload-url') ?? '';
    expect(url).toMatch(
      new RegExp(`^${emu.baseUrl}/upload/v1beta/files\\?upload_id=[a-z0-9]+&upload_protocol=resumable$`),
    );
    expect(started.headers.get('x-goog-upload-status')).toBe('active');

    const first = await post(
      url,
      { ...key, 'x-goog-upload-command': 'upload', 'x-goog-upload-offset': '0' },
      'abcd',
    );
    expect(first.headers.get('x-goog-upload-status')).toBe('active');
    const wrong = await post(
      url,
      { ...key, 'x-goog-upload-command': 'upload', 'x-goog-upload-offset': '0' },
      'efgh',
    );
    expect(wrong.status).toBe(400);
    const query = await post(url, { ...key, 'x-goog-upload-command': 'query' });
    expect(query.headers.get('x-goog-upload-size-received')).toBe('4');
    const last = await post(
      url,
      { ...key, 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '4' },
      'efghij',
    );
    expect(last.status).toBe(200);
    expect(last.headers.get('x-goog-upload-status')).toBe('final');
    expect(last.json.file).toMatchObject({
      displayName: 'd',
      mimeType: 'jsonl',
      sizeBytes: '10',
      source: 'UPLOADED',
    });
  });

  it('refuses to finalize an upload shorter than declared (no File is created)', async () => {
    const emu = await start();
    const url = (await startUpload(emu.baseUrl, 10)).headers.get('x-goog-upload-url') ?? '';
    const last = await post(
      url,
      { ...key, 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '0' },
      'abc',
    );
    expect(last.status).toBe(400);
    expect(last.json.error.message).toBe('Upload finalized with 3 bytes, but 10 were declared.');
    const list = await rawGet(emu, 'files');
    expect(list.body).toEqual({});
  });

  it('keeps the bytes with the session when the file record cannot be saved at finalize', async () => {
    const dir = temp();
    const emu = await start({ dir });
    const started = await post(
      `${emu.baseUrl}/upload/v1beta/files`,
      {
        ...key,
        'x-goog-upload-protocol': 'resumable',
        'x-goog-upload-command': 'start',
        'x-goog-upload-header-content-length': '4',
        'x-goog-upload-header-content-type': 'jsonl',
      },
      JSON.stringify({ file: { name: 'files/stuck', displayName: 'd' } }),
    );
    expect(started.status).toBe(200);
    const url = started.headers.get('x-goog-upload-url') ?? '';
    // A directory where the record goes: saving it fails, as on a full or broken disk.
    mkdirSync(join(dir, 'meta/files/stuck.json'));
    const finalize = { ...key, 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '0' };
    const failed = await post(url, finalize, 'abcd');
    expect(failed.status).toBe(500);
    expect(existsSync(join(dir, 'data/stuck'))).toBe(false);
    expect(readdirSync(join(dir, 'meta/files'))).toEqual(['stuck.json']);
    expect((await rawGet(emu, 'files')).body).toEqual({});

    rmSync(join(dir, 'meta/files/stuck.json'), { recursive: true });
    const again = await post(url, { ...finalize, 'x-goog-upload-offset': '4' });
    expect(again.status).toBe(200);
    expect(again.json.file).toMatchObject({ name: 'files/stuck', sizeBytes: '4' });
    expect(readFileSync(join(dir, 'data/stuck'), 'utf8')).toBe('abcd');
  });

  it('answers 404 for an unknown upload session', async () => {
    const emu = await start();
    const res = await post(
      `${emu.baseUrl}/upload/v1beta/files?upload_id=nope`,
      { ...key, 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '0' },
      'x',
    );
    expect(res.status).toBe(404);
  });

  it('answers 429 RESOURCE_EXHAUSTED past the project storage limit', async () => {
    const emu = await start({ storageLimitBytes: 5 });
    const res = await startUpload(emu.baseUrl, 10);
    expect(res.status).toBe(429);
    expect(res.json.error.status).toBe('RESOURCE_EXHAUSTED');
    // The real API's quota error (as reported in public issues), with its metric in the details.
    expect(res.json.error.message).toContain(
      'Quota exceeded for metric: generativelanguage.googleapis.com/file_storage_bytes, limit: 5',
    );
    expect(res.json.error.details[0]).toEqual({
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/file_storage_bytes',
          quotaId: 'FileStorageBytesPerProject',
          quotaValue: '5',
        },
      ],
    });
  });

  it('refuses a file over the per-file size limit', async () => {
    const emu = await start({ maxFileBytes: 5 });
    const res = await startUpload(emu.baseUrl, 10);
    expect(res.status).toBe(400);
  });
});

describe('limits and bodies', () => {
  it('refuses a request body over 20 MiB like the real front end', async () => {
    const emu = await start();
    const big = JSON.stringify({
      batch: {
        inputConfig: {
          requests: {
            requests: [{ request: { contents: [{ parts: [{ text: 'x'.repeat(21 * 1024 * 1024) }] }] } }],
          },
        },
      },
    });
    const res = await post(
      `${emu.baseUrl}/v1beta/models/gemini-2.5-flash:batchGenerateContent`,
      { 'x-goog-api-key': 'k' },
      big,
    );
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('Request payload size exceeds the limit: 20971520 bytes.');
  });

  it('refuses unknown fields in a create body, naming them', async () => {
    const emu = await start();
    const res = await post(
      `${emu.baseUrl}/v1beta/models/gemini-2.5-flash:batchGenerateContent`,
      { 'x-goog-api-key': 'k' },
      JSON.stringify({ batch: { inputConfig: { requests: { requests: [] } }, colour: 'red' } }),
    );
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      `Invalid JSON payload received. Unknown name "colour" at 'batch': Cannot find field.`,
    );
  });

  it('answers 404 NOT_FOUND in JSON for a route it does not serve', async () => {
    const emu = await start();
    const res = await fetch(`${emu.baseUrl}/v1beta/nothing-here`, { headers: { 'x-goog-api-key': 'k' } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.status).toBe('NOT_FOUND');
  });
});

describe('persistence', () => {
  it('keeps files and jobs in --dir: a restarted emulator sees them, and pending jobs carry on', async () => {
    const dir = temp();
    const first = await startEmulator({ dir, pendingMs: 400 });
    const ai1 = new GoogleGenAI(first.clientOptions());
    const file = await ai1.files.upload({
      file: new Blob(['{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}]}}\n'], { type: 'jsonl' }),
    });
    const job = await ai1.batches.create({
      model: 'gemini-2.5-flash',
      src: file.name ?? '',
      config: { displayName: 'survivor' },
    });
    await first.close();

    const second = await startEmulator({ dir, pendingMs: 400 });
    try {
      const ai2 = new GoogleGenAI(second.clientOptions());
      expect((await ai2.files.get({ name: file.name ?? '' })).sizeBytes).toBe(file.sizeBytes);
      const done = await until(async () => {
        const j = await ai2.batches.get({ name: job.name ?? '' });
        return j.state === 'JOB_STATE_SUCCEEDED' ? j : undefined;
      });
      expect(done.displayName).toBe('survivor');
      expect(done.dest?.fileName).toBe(`files/batch-${(job.name ?? '').slice(8)}`);
    } finally {
      await second.close();
    }
  });

  it('validates its options and names the bad one', async () => {
    await expect(startEmulator({ pendingMs: -1 })).rejects.toThrow(/`pendingMs`/);
    // @ts-expect-error an unknown option is refused
    await expect(startEmulator({ pendingMS: 1 })).rejects.toThrow(/pendingMS/);
  });
});
