// Against the real Gemini API: runs only when GEMINI_API_KEY is set (it costs a little money and
// can wait for a real batch job); skipped otherwise, saying so. A dry run against the emulator
// (`gemini-batch emulator`, then GEMINI_API_KEY=any GOOGLE_GEMINI_BASE_URL=<its URL>) passes all
// but the two sentiment checks, which need a real model.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BatchResult, geminiBatch, geminiOnline, type RunSummary, toRequests } from '../src/index.js';
import { collect } from './pipeline/harness.js';

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

  // The library itself, end to end: rows in, one result per row out, joined by key.
  const rows = [
    { id: 'r1', text: 'I loved it, would buy again.' },
    { id: 'r2', text: 'Broke after a day. Waste of money.' },
    { id: 'r3', text: 'It is a chair.' },
  ];
  const schema = z.object({ sentiment: z.enum(['positive', 'negative', 'neutral']) });
  const prompt = (row: (typeof rows)[number]) => `Classify the sentiment of this review: ${row.text}`;

  function checkResults(results: BatchResult<(typeof rows)[number], z.infer<typeof schema>>[]) {
    expect(results.map((r) => r.key)).toEqual(['r1', 'r2', 'r3']);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(schema.safeParse(r.output).success).toBe(true);
      expect(r.usage?.promptTokens).toBeGreaterThan(0);
    }
    expect(results[0]?.output?.sentiment).toBe('positive');
    expect(results[1]?.output?.sentiment).toBe('negative');
  }

  it(
    'runs rows through geminiBatch (structured output) and joins every answer to its row',
    async () => {
      const results: BatchResult<(typeof rows)[number], z.infer<typeof schema>>[] = [];
      let summary: RunSummary | undefined;
      await pipeline(
        Readable.from(rows),
        toRequests(prompt, { key: (row) => row.id }),
        geminiBatch({
          model,
          stateDir: mkdtempSync(join(tmpdir(), 'gbs-live-state-')),
          outputSchema: schema,
          pollIntervalMs: { initial: 15_000, max: 60_000 },
          cancelOnAbort: true,
          onProgress: (e) => {
            if (e.type === 'done') summary = e.summary;
          },
        }),
        collect(results),
        { signal: AbortSignal.timeout(timeoutMs) },
      );
      checkResults(results);
      expect(summary).toMatchObject({ rows: 3, succeeded: 3, failed: 0, jobsCreated: 1 });
    },
    timeoutMs + 60_000,
  );

  it('runs the same rows through geminiOnline', async () => {
    const results: BatchResult<(typeof rows)[number], z.infer<typeof schema>>[] = [];
    await pipeline(
      Readable.from(rows),
      toRequests(prompt, { key: (row) => row.id }),
      geminiOnline({ model, outputSchema: schema, concurrency: 2 }),
      collect(results),
    );
    checkResults(results);
  }, 120_000);
});
