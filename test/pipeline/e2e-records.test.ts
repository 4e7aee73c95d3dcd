// The whole pipeline through the real SDK and the emulator, records: structured output parsed and
// validated, and every kind of bad row or answer as one error record while the rest succeed.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FAKE_MARKERS } from '../../src/emulator/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { byId, runRows } from './harness.js';

const start = emulators();
const temp = tempDirs();

describe('geminiBatch end to end', () => {
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
