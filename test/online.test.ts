// geminiOnline through the library, against the emulator: input order, error records, retries on
// 429 (Retry-After honoured), rows that stay failing, a run-stopping 403, resume from stateDir.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Emulator } from '../src/emulator/index.js';
import { type BatchResult, GbsError, geminiOnline, toRequests } from '../src/index.js';
import { emulators, SDK_VARIANTS, tempDirs } from './helpers.js';
import { collect, rowsOf, runOnline } from './pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

const calls = (emu: Emulator, status = '200') => emu.stats().calls['models.generateContent']?.[status] ?? 0;

describe('geminiOnline', () => {
  it('answers every row once, in input order, with error records where the API refuses', async () => {
    const emu = await start();
    const rows = rowsOf(60, (i) =>
      i === 7
        ? 'x [[fake:error]]'
        : i === 11
          ? 'y [[fake:block]]'
          : i === 13
            ? 'z [[fake:max-tokens]]'
            : `p${i}`,
    );
    rows.push({ id: 'bad', text: '' }); // an empty prompt: a build error, never sent
    const { results, summary } = await runOnline(emu, rows, { concurrency: 5 });
    expect(results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(results[0]).toMatchObject({ ok: true, row: rows[0] });
    expect(results[0]?.text).toMatch(/^echo [0-9a-f]{8}: p0$/);
    expect(results[7]?.error).toMatchObject({
      stage: 'request',
      code: 'GBS_REQUEST_FAILED',
      reason: 'INVALID_ARGUMENT',
    });
    expect(results[11]?.error).toMatchObject({ stage: 'request', code: 'GBS_BLOCKED', reason: 'SAFETY' });
    expect(results[13]?.error).toMatchObject({ code: 'GBS_FINISH_REASON', reason: 'MAX_TOKENS' });
    expect(results[60]?.error).toMatchObject({ stage: 'build', code: 'GBS_BUILD_FAILED' });
    expect(calls(emu) + calls(emu, '400')).toBe(60);
    expect(summary).toMatchObject({ rows: 61, succeeded: 57, failed: 4, jobsCreated: 0 });
    expect(summary?.failedByCode).toEqual({
      GBS_REQUEST_FAILED: 1,
      GBS_BLOCKED: 1,
      GBS_FINISH_REASON: 1,
      GBS_BUILD_FAILED: 1,
    });
    const prompt = results.reduce((n, r) => n + (r.usage?.promptTokens ?? 0), 0);
    expect(summary?.usage.promptTokens).toBe(prompt);
  });

  it('parses structured output with outputSchema', async () => {
    const emu = await start();
    const schema = z.object({ sentiment: z.enum(['positive', 'negative']) });
    const { results } = await runOnline(emu, rowsOf(5), { outputSchema: schema });
    for (const r of results) expect(schema.parse(r.output)).toEqual(r.output);
  });

  it.each(SDK_VARIANTS)('sends the request as toRequests built it ($label)', async (variant) => {
    const emu = await start();
    const schema = z.object({ label: z.enum(['spam', 'ham']) });
    const results: BatchResult<any, any>[] = [];
    await pipeline(
      Readable.from(rowsOf(3)),
      toRequests(
        (row: any) => ({ contents: row.text, config: { systemInstruction: 'Be brief.', temperature: 0 } }),
        {
          key: (row: any) => row.id,
        },
      ),
      geminiOnline({
        client: variant.make(emu.clientOptions(variant.apiVersion)),
        model: 'gemini-2.5-flash',
        outputSchema: schema,
      }),
      collect(results),
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    for (const r of results) expect(schema.parse(r.output)).toEqual(r.output);
    // The system instruction reached the model: it is counted in the prompt tokens.
    expect(results[0]?.usage?.promptTokens).toBe(Math.ceil('prompt number 0Be brief.'.length / 4));
  });

  it('retries a 429, waiting what its RetryInfo asks', async () => {
    const emu = await start({
      faults: {
        http: [
          {
            route: 'models.generateContent',
            nth: 1,
            action: { type: 'error', status: 429, retryDelaySeconds: 0.2 },
          },
        ],
      },
    });
    const started = Date.now();
    const { results, events } = await runOnline(emu, rowsOf(10), { concurrency: 1 });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls(emu, '429')).toBe(1);
    expect(calls(emu)).toBe(10);
    expect(events.filter((e) => e.type === 'retry')).toMatchObject([
      { operation: 'models.generateContent', delayMs: 200 },
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('a row still failing after the retries is an error record, not kept: a rerun sends it again', async () => {
    const emu = await start({
      faults: {
        http: [{ route: 'models.generateContent', nth: 1, times: 4, action: { type: 'error', status: 503 } }],
      },
    });
    const stateDir = temp();
    const first = await runOnline(emu, rowsOf(4), { concurrency: 1, stateDir });
    expect(first.results[0]?.error).toMatchObject({
      stage: 'request',
      code: 'GBS_REQUEST_FAILED',
      reason: 'UNAVAILABLE',
    });
    expect(first.results.slice(1).every((r) => r.ok)).toBe(true);
    const second = await runOnline(emu, rowsOf(4), { concurrency: 1, stateDir });
    expect(second.results.every((r) => r.ok)).toBe(true);
    expect(calls(emu)).toBe(4);
  });

  it('stops the run on a 403 (a bad key concerns every row)', async () => {
    const emu = await start({
      faults: { http: [{ route: 'models.generateContent', action: { type: 'error', status: 403 } }] },
    });
    const err = await runOnline(emu, rowsOf(20)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_API_ERROR');
    expect((err as GbsError).message).toMatch(/403/);
  });

  it('stops at the first 403 even while an earlier row is still waiting for its answer', async () => {
    const emu = await start({
      faults: {
        http: [
          // The first row's answer is slow; every other call is refused.
          { route: 'models.generateContent', nth: 1, action: { type: 'delay', ms: 3000 } },
          { route: 'models.generateContent', action: { type: 'error', status: 403 } },
        ],
      },
    });
    const err = await runOnline(emu, rowsOf(40), { concurrency: 4 }).catch((e: unknown) => e);
    expect((err as GbsError).code).toBe('GBS_API_ERROR');
    expect((err as GbsError).message).toMatch(/403/);
    // Not a window's worth of refused calls behind the slow row: the 3 others in flight at most.
    expect(calls(emu, '403')).toBeLessThanOrEqual(3);
  });

  it('resumes: a rerun replays answered rows and sends only the others', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(30);
    const preview = await runOnline(emu, rows.slice(0, 10), { stateDir, concurrency: 3 });
    expect(calls(emu)).toBe(10);
    // A changed row (its request differs) is sent again; the others are replayed.
    const changed = rows.map((r, i) => (i === 4 ? { ...r, text: 'changed' } : r));
    const full = await runOnline(emu, changed, { stateDir, concurrency: 3 });
    expect(calls(emu)).toBe(10 + 20 + 1);
    expect(full.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(full.results.slice(0, 10).filter((_, i) => i !== 4)).toEqual(
      preview.results.filter((_, i) => i !== 4),
    );
    expect(full.results[4]?.text).toMatch(/: changed$/);
    expect(full.summary?.rows).toBe(30);
    // A complete run leaves one answers file, holding every answered row.
    expect(readdirSync(join(stateDir, 'online')).filter((n) => n.endsWith('.jsonl'))).toHaveLength(1);
    const again = await runOnline(emu, changed, { stateDir, concurrency: 3 });
    expect(calls(emu)).toBe(31);
    expect(again.results).toEqual(full.results);
  });

  it('a shorter rerun loses none of the answers beyond its input', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(30);
    await runOnline(emu, rows.slice(0, 20), { stateDir });
    await runOnline(emu, rows.slice(0, 10), { stateDir });
    expect(calls(emu)).toBe(20);
    const full = await runOnline(emu, rows, { stateDir });
    expect(calls(emu)).toBe(30);
    expect(full.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(readdirSync(join(stateDir, 'online')).filter((n) => n.endsWith('.jsonl'))).toHaveLength(1);
  });

  it('keeps what an interrupted run answered', async () => {
    const emu = await start({
      faults: { http: [{ route: 'models.generateContent', nth: 15, action: { type: 'delay', ms: 5000 } }] },
    });
    const stateDir = temp();
    const rows = rowsOf(40);
    const stop = new AbortController();
    const seen: BatchResult[] = [];
    const run = pipeline(
      Readable.from(rows),
      toRequests((row: any) => row.text, { key: (row: any) => row.id }),
      geminiOnline({
        client: new GoogleGenAI(emu.clientOptions()),
        model: 'm',
        concurrency: 2,
        stateDir,
        signal: stop.signal,
      }),
      collect(seen),
    );
    // Row 14's answer is slow: the rows before it come out, then the run is stopped.
    while (seen.length < 14) await new Promise((r) => setTimeout(r, 10));
    stop.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    const sent = calls(emu);
    const rerun = await runOnline(emu, rows, { model: 'm', stateDir, concurrency: 2 });
    expect(rerun.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    // Only the rows not answered before are sent again (the delayed one, and any after it).
    expect(calls(emu) - sent).toBeLessThanOrEqual(40 - 14);
    expect(calls(emu)).toBeLessThanOrEqual(40 + 1);
  });

  it('validates its options', () => {
    expect(() =>
      geminiOnline({ model: 'm', concurrency: 0, client: new GoogleGenAI({ apiKey: 'k' }) }),
    ).toThrow(/Invalid geminiOnline option `concurrency`/);
    expect(() =>
      geminiOnline({ model: 'm', client: new GoogleGenAI({ apiKey: 'k' }), stateDirr: 'x' } as never),
    ).toThrow(/Unknown geminiOnline option `stateDirr`/);
  });
});
