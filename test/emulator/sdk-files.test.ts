// The Files API through the real SDK (2.x and 3.x, v1beta and v1) against the emulator.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { emulators, rawGet, SDK_VARIANTS, tempDirs, until } from '../helpers.js';

const start = emulators();
const temp = tempDirs();

describe.each(SDK_VARIANTS)('Files API with $label', ({ make, apiVersion }) => {
  async function setup() {
    const emu = await start();
    const ai = make(emu.clientOptions(apiVersion));
    return { emu, ai };
  }

  it('uploads a small JSONL file (one finalize chunk) and returns the File resource', async () => {
    const { ai } = await setup();
    const path = join(temp(), 'requests.jsonl');
    const content = '{"key":"a","request":{"contents":[{"parts":[{"text":"hi"}]}]}}\n';
    writeFileSync(path, content);
    const file = await ai.files.upload({
      file: path,
      config: { mimeType: 'jsonl', displayName: 'my-requests' },
    });
    expect(file.name).toMatch(/^files\/[a-z0-9]{12}$/);
    expect(file).toMatchObject({
      displayName: 'my-requests',
      mimeType: 'jsonl',
      sizeBytes: String(Buffer.byteLength(content)),
      state: 'ACTIVE',
      source: 'UPLOADED',
      sha256Hash: createHash('sha256').update(content).digest('base64'),
    });
    expect(Date.parse(file.expirationTime ?? '') - Date.parse(file.createTime ?? '')).toBe(48 * 3600_000);
    const got = await ai.files.get({ name: file.name ?? '' });
    expect(got.sizeBytes).toBe(file.sizeBytes);
  });

  it('uploads a file over 8 MiB in several chunks, byte for byte', async () => {
    const { emu, ai } = await setup();
    const path = join(temp(), 'big.bin');
    const data = randomBytes(9 * 1024 * 1024 + 123);
    writeFileSync(path, data);
    const file = await ai.files.upload({ file: path, config: { mimeType: 'application/octet-stream' } });
    expect(file.sizeBytes).toBe(String(data.length));
    expect(file.sha256Hash).toBe(createHash('sha256').update(data).digest('base64'));
    // Two chunk requests: 8 MiB `upload`, then the rest with `upload, finalize`.
    expect(emu.stats().calls['upload.chunk']).toEqual({ 200: 2 });
    const stored = readFileSync(join(emu.dir, 'data', (file.name ?? '').slice('files/'.length)));
    expect(stored.equals(data)).toBe(true);
  });

  it('uploads a Blob (no file name header)', async () => {
    const { ai } = await setup();
    const file = await ai.files.upload({ file: new Blob(['{"key":"k"}\n'], { type: 'jsonl' }) });
    expect(file.mimeType).toBe('jsonl');
    expect(file.sizeBytes).toBe('12');
  });

  it('lists files across pages without an empty trailing token', async () => {
    const { ai } = await setup();
    const dir = temp();
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = join(dir, `f${i}.txt`);
      writeFileSync(p, `file ${i}`);
      names.push((await ai.files.upload({ file: p })).name ?? '');
    }
    const pager = await ai.files.list({ config: { pageSize: 2 } });
    const seen: string[] = [];
    for await (const f of pager) seen.push(f.name ?? '');
    expect(seen.sort()).toEqual([...names].sort());
    expect(seen.every((n) => n !== undefined)).toBe(true);
  });

  it('deletes a file ({} body) and then answers 403 PERMISSION_DENIED for it', async () => {
    const { ai } = await setup();
    const p = join(temp(), 'x.txt');
    writeFileSync(p, 'x');
    const file = await ai.files.upload({ file: p });
    await ai.files.delete({ name: file.name ?? '' });
    const err = await ai.files.get({ name: file.name ?? '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as ApiError).status).toBe(403);
    expect(JSON.parse((err as ApiError).message)).toEqual({
      error: {
        code: 403,
        message: `You do not have permission to access the File ${(file.name ?? '').slice(6)} or it may not exist.`,
        status: 'PERMISSION_DENIED',
      },
    });
  });

  it('answers 400 for files.get of an id over 40 characters, as the real API does for batch output files', async () => {
    const { ai } = await setup();
    const err = (await ai.files
      .get({ name: `files/batch-${'a'.repeat(36)}` })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(400);
    expect(JSON.parse(err.message).error.message).toContain('cannot be more than 40 characters');
  });

  it('downloads a generated results file by streaming it to disk (both URL forms)', async () => {
    const { emu, ai } = await setup();
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash',
      src: [{ contents: 'x', metadata: { key: 'a' } }],
    });
    expect(job.name).toBeDefined();
    // A file job, to get a generated file.
    const p = join(temp(), 'in.jsonl');
    writeFileSync(p, '{"key":"a","request":{"contents":[{"parts":[{"text":"hello"}]}]}}\n');
    const input = await ai.files.upload({ file: p, config: { mimeType: 'jsonl' } });
    const fileJob = await ai.batches.create({ model: 'gemini-2.5-flash', src: input.name ?? '' });
    const done = await until(async () => {
      const j = await ai.batches.get({ name: fileJob.name ?? '' });
      return j.state === 'JOB_STATE_SUCCEEDED' ? j : undefined;
    });
    const outName = done.dest?.fileName ?? '';
    expect(outName).toBe(`files/batch-${(fileJob.name ?? '').slice('batches/'.length)}`);
    const dest = join(temp(), 'out.jsonl');
    await ai.files.download({ file: outName, downloadPath: dest });
    const viaSdk = readFileSync(dest, 'utf8');
    expect(JSON.parse(viaSdk.trim()).key).toBe('a');
    const viaDownloadPrefix = await fetch(`${emu.baseUrl}/download/v1beta/${outName}:download?alt=media`, {
      headers: { 'x-goog-api-key': emu.apiKey },
    }).then((r) => r.text());
    expect(viaDownloadPrefix).toBe(viaSdk);
    // The generated file is listed with source GENERATED.
    const listed = await rawGet(emu, 'files?pageSize=100');
    expect(listed.body.files.find((f: { name: string }) => f.name === outName)?.source).toBe('GENERATED');
    // An uploaded file cannot be downloaded: the real API's answer (captured 2026-08-31).
    const refused = await fetch(`${emu.baseUrl}/v1beta/${input.name}:download?alt=media`, {
      headers: { 'x-goog-api-key': emu.apiKey },
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: { code: 400, message: 'Only GENERATED files can be downloaded.', status: 'INVALID_ARGUMENT' },
    });
  });
});
