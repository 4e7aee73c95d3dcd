// Regressions found by a review of the emulator:
// - a request whose Host header makes no URL crashed the whole process (an unhandled rejection);
// - a malformed percent-escape in a path answered 500 instead of 400;
// - a JSONL read stopped early (a create refused for a bad line, a cancelled job) kept its file
//   descriptor open for good;
// - an upload chunk went to disk past the declared size, and a chunk cut off mid-way could leave
//   stray bytes behind the offset reported to the client;
// - a pageSize of 2.5 gave a page token the emulator itself then refused.

import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulators, until } from '../helpers.js';

const start = emulators();

/** Sends raw bytes and resolves with the status line (or '' if the server closed without one). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString();
    });
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

/** Descriptors of this process open on files under `dir` (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) open.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return open;
}

const key = (emu: Emulator) => ({ 'x-goog-api-key': emu.apiKey });

async function startUpload(emu: Emulator, size: number): Promise<string> {
  const res = await fetch(`${emu.baseUrl}/upload/v1beta/files`, {
    method: 'POST',
    headers: {
      ...key(emu),
      'content-type': 'application/json',
      'x-goog-upload-protocol': 'resumable',
      'x-goog-upload-command': 'start',
      'x-goog-upload-header-content-length': String(size),
      'x-goog-upload-header-content-type': 'jsonl',
    },
    body: JSON.stringify({ file: { displayName: 'd' } }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('x-goog-upload-url') ?? '';
}

async function chunk(emu: Emulator, url: string, command: string, offset: number, body?: Buffer) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...key(emu), 'x-goog-upload-command': command, 'x-goog-upload-offset': String(offset) },
    ...(body ? { body } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Starts an upload chunk that announces `announced` bytes, sends `sent`, then cuts the connection. */
function cutChunk(emu: Emulator, url: string, announced: number, sent: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        ...key(emu),
        'x-goog-upload-command': 'upload',
        'x-goog-upload-offset': '0',
        'content-length': String(announced),
      },
    });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      resolve();
    });
    req.write(sent, () => setTimeout(() => req.destroy(), 5));
  });
}

describe('emulator robustness', () => {
  it('answers 400 to a Host header that makes no URL, and goes on serving', async () => {
    const emu = await start();
    const status = await rawRequest(
      emu.port,
      `GET /v1beta/files HTTP/1.1\r\nHost: a b\r\nx-goog-api-key: ${emu.apiKey}\r\nConnection: close\r\n\r\n`,
    );
    expect(status).toBe('HTTP/1.1 400 Bad Request');
    const after = await fetch(`${emu.baseUrl}/v1beta/files`, { headers: key(emu) });
    expect(after.status).toBe(200);
  });

  it('answers 400 INVALID_ARGUMENT to a malformed percent-escape in a path', async () => {
    const emu = await start();
    const res = await fetch(`${emu.baseUrl}/v1beta/files/%E0%A4%A`, { headers: key(emu) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { status: string } }).error.status).toBe('INVALID_ARGUMENT');
  });

  it('answers 400 to a pageSize that is not an integer (it used to hand out a token it then refused)', async () => {
    const emu = await start();
    const res = await fetch(`${emu.baseUrl}/v1beta/files?pageSize=2.5`, { headers: key(emu) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("'page_size'");
  });

  it.skipIf(process.platform !== 'linux')(
    'closes the input file of a create refused for a bad line and of a cancelled job (Linux only: reads /proc/self/fd)',
    async () => {
      const emu = await start({ runningMs: 60_000 });
      const ai = new GoogleGenAI(emu.clientOptions());
      const line = (i: number) =>
        `${JSON.stringify({ key: `k${i}`, request: { contents: [{ parts: [{ text: 'x'.repeat(200) }] }] } })}\n`;
      const good = Array.from({ length: 5000 }, (_, i) => line(i)).join('');
      const bad = `not json\n${good}`; // > 1 MB: far more than one read of the stream

      const badFile = await ai.files.upload({ file: new Blob([bad]), config: { mimeType: 'jsonl' } });
      for (let i = 0; i < 3; i++) {
        await expect(
          ai.batches.create({ model: 'gemini-2.5-flash', src: badFile.name as string }),
        ).rejects.toMatchObject({ status: 400 });
      }
      await until(async () => openFilesUnder(emu.dir).length === 0, 5000);

      const goodFile = await ai.files.upload({ file: new Blob([good]), config: { mimeType: 'jsonl' } });
      const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: goodFile.name as string });
      await until(
        async () => (await ai.batches.get({ name: job.name as string })).state === 'JOB_STATE_RUNNING',
      );
      expect(openFilesUnder(emu.dir).length).toBeGreaterThan(0); // the job is reading its input
      await ai.batches.cancel({ name: job.name as string });
      await until(
        async () => (await ai.batches.get({ name: job.name as string })).state === 'JOB_STATE_CANCELLED',
      );
      await until(async () => openFilesUnder(emu.dir).length === 0, 5000);
    },
  );

  it('refuses a chunk that goes past the declared size, keeps none of it, and the upload can go on', async () => {
    const emu = await start();
    const url = await startUpload(emu, 10);
    const over = await chunk(emu, url, 'upload', 0, Buffer.alloc(5_000_000, 'a'));
    expect(over.status).toBe(400);
    expect(over.json.error.message).toContain('past the declared size of 10 bytes');
    expect(over.headers.get('x-goog-upload-size-received')).toBe('0');
    const rest = await chunk(emu, url, 'upload, finalize', 0, Buffer.from('0123456789'));
    expect(rest.status).toBe(200);
    expect(rest.json.file.sizeBytes).toBe('10');
  });

  it('forgets every byte of a chunk cut off mid-way: the upload resumed at the reported offset is exact', async () => {
    const emu = await start();
    const content = Buffer.alloc(4 * 2 ** 20);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) % 251;
    const sha = createHash('sha256').update(content).digest('base64');
    for (let round = 0; round < 8; round++) {
      const url = await startUpload(emu, content.length);
      await cutChunk(emu, url, content.length, content.subarray(0, 3 * 2 ** 20));
      const query = await until(async () => {
        const q = await chunk(emu, url, 'query', 0);
        return q.status === 200 ? q : undefined;
      });
      const received = Number(query.headers.get('x-goog-upload-size-received'));
      const last = await chunk(emu, url, 'upload, finalize', received, content.subarray(received));
      expect(last.status, `round ${round}: ${JSON.stringify(last.json)}`).toBe(200);
      expect(last.json.file.sizeBytes).toBe(String(content.length));
      expect(last.json.file.sha256Hash).toBe(sha);
    }
  });
});
