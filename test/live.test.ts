// Against the real Gemini API: runs only when GEMINI_API_KEY is set (it costs a little money and
// can wait for a real batch job); skipped otherwise, saying so.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';

const key = process.env.GEMINI_API_KEY;
const model = process.env.GEMINI_LIVE_MODEL ?? 'gemini-2.5-flash-lite';
const timeoutMs = Number(process.env.GEMINI_LIVE_TIMEOUT_MS ?? 30 * 60_000);

if (!key) console.log('live tests skipped: set GEMINI_API_KEY to run them against the real Gemini API');

describe.skipIf(!key)('live Gemini API round trip (needs GEMINI_API_KEY)', () => {
  it(
    'uploads a JSONL file, runs a batch job to SUCCEEDED and downloads its results',
    async () => {
      const ai = new GoogleGenAI({ apiKey: key, apiVersion: 'v1beta' });
      const dir = mkdtempSync(join(tmpdir(), 'gbs-live-'));
      const input = join(dir, 'in.jsonl');
      writeFileSync(
        input,
        `${JSON.stringify({ key: 'live-1', request: { contents: [{ parts: [{ text: 'Say OK.' }] }] } })}\n`,
      );
      const file = await ai.files.upload({
        file: input,
        config: { mimeType: 'jsonl', displayName: 'gbs-live' },
      });
      const job = await ai.batches.create({
        model,
        src: file.name ?? '',
        config: { displayName: `gbs-live-${Date.now()}` },
      });
      let state = job.state;
      let current = job;
      const deadline = Date.now() + timeoutMs;
      while (
        !['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(
          state ?? '',
        )
      ) {
        if (Date.now() > deadline) {
          await ai.batches.cancel({ name: job.name ?? '' });
          throw new Error(`live batch ${job.name} not done after ${timeoutMs} ms; cancelled`);
        }
        await new Promise((r) => setTimeout(r, 15_000));
        current = await ai.batches.get({ name: job.name ?? '' });
        state = current.state;
      }
      expect(state).toBe('JOB_STATE_SUCCEEDED');
      const out = join(dir, 'out.jsonl');
      await ai.files.download({ file: current.dest?.fileName ?? '', downloadPath: out });
      const line = JSON.parse(readFileSync(out, 'utf8').trim());
      expect(line.key).toBe('live-1');
      await ai.files.delete({ name: file.name ?? '' });
    },
    timeoutMs + 60_000,
  );
});
