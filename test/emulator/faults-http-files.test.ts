// HTTP fault knobs on uploads and downloads, through the real SDK and raw resumable-upload calls: cut
// chunks, a wrong sizeBytes, a final chunk without its status or with a broken body, a cut download.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulators, SDK_VARIANTS, tempDirs, until } from '../helpers.js';
import { failure, LINE, listNames, MODEL, sdkSetup, uploader } from './faults-http-setup.js';

const start = emulators();
const temp = tempDirs();
const upload = uploader(temp);

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

describe.each(SDK_VARIANTS)('HTTP faults with $label', (variant) => {
  const setup = sdkSetup(start, variant);

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
