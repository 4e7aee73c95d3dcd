// Job fault knobs on what a job answers, through the real SDK (2.x and 3.x): dropped, duplicate,
// unknown, foreign, malformed, failed, long and shuffled lines, inline answers, a late output file.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { fakeAnswerText } from '../../src/emulator/index.js';
import { emulators, rawGet, SDK_VARIANTS, tempDirs, until } from '../helpers.js';
import { helpers, key, keysOf, MODEL, range, request } from './faults-jobs-setup.js';

const start = emulators();
const temp = tempDirs();

describe.each(SDK_VARIANTS)('job faults with $label', (variant) => {
  const { setup, createFileJob, finished, resultLines } = helpers(variant, start, temp);

  it('dropKeys: the 2nd job leaves out every 3rd line, the 1st and 3rd are whole', async () => {
    const { emu, ai } = await setup({ jobs: [{ nth: 2, effect: { type: 'dropKeys', every: 3 } }] });
    const jobs = [await createFileJob(ai, 10), await createFileJob(ai, 10), await createFileJob(ai, 10)];
    expect(keysOf(await resultLines(ai, jobs[0] ?? ''))).toEqual(range(10));
    expect(keysOf(await resultLines(ai, jobs[1] ?? ''))).toEqual(
      range(10).filter((_, i) => (i + 1) % 3 !== 0),
    );
    expect(keysOf(await resultLines(ai, jobs[2] ?? ''))).toEqual(range(10));
    // The server still counts every request as done.
    expect((await rawGet(emu, jobs[1] ?? '')).body.metadata.batchStats).toEqual({
      requestCount: '10',
      successfulRequestCount: '10',
    });
    expect(emu.stats().faultsApplied).toEqual([{ job: jobs[1], type: 'dropKeys', n: 2 }]);
  });

  it('inline effects on an inline job: duplicates, drops and an entry with neither response nor error', async () => {
    const { ai } = await setup({
      jobs: [
        {
          effect: [
            { type: 'duplicateKeys', every: 2 },
            { type: 'dropKeys', every: 3 },
            { type: 'malformed', every: 4 },
          ],
        },
      ],
    });
    const job = await ai.batches.create({
      model: MODEL,
      src: [0, 1, 2, 3, 4, 5].map((i) => ({ contents: `q${i}`, metadata: { key: key(i) } })),
    });
    const items = (await finished(ai, job.name ?? '')).dest?.inlinedResponses ?? [];
    expect(items.map((r) => r.metadata?.key)).toEqual(['k0', 'k1', 'k1', 'k3', 'k3', 'k4']);
    expect(items[3]?.response).toBeUndefined();
    expect(items[3]?.error).toBeUndefined();
  });

  it('foreignKeys: the job answers keys it was not sent too, after its own lines, on a file and an inline job', async () => {
    const { emu, ai } = await setup({
      jobs: [{ nth: [1, 2], effect: { type: 'foreignKeys', keys: ['elsewhere-1', 'k0'] } }],
    });
    const name = await createFileJob(ai, 3);
    const lines = (await resultLines(ai, name)).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.key)).toEqual(['k0', 'k1', 'k2', 'elsewhere-1', 'k0']);
    const textOf = (l: {
      response: { candidates: Array<{ content: { parts: Array<{ text: string }> } }> };
    }) => l.response.candidates[0]?.content.parts[0]?.text;
    expect(textOf(lines[0])).toBe(fakeAnswerText(request(0)));
    expect(textOf(lines[4])).toContain('An answer for k0, which this job was not sent.');
    expect(textOf(lines[3])).toContain('An answer for elsewhere-1, which this job was not sent.');
    // The server counts only the requests it was sent.
    expect((await rawGet(emu, name)).body.metadata.batchStats).toEqual({
      requestCount: '3',
      successfulRequestCount: '3',
    });

    const job = await ai.batches.create({
      model: MODEL,
      src: [0, 1].map((i) => ({ contents: `q${i}`, metadata: { key: key(i) } })),
    });
    const items = (await finished(ai, job.name ?? '')).dest?.inlinedResponses ?? [];
    expect(items.map((r) => r.metadata?.key)).toEqual(['k0', 'k1', 'elsewhere-1', 'k0']);
    expect(items[3]?.response?.candidates?.[0]?.content?.parts?.[0]?.text).toContain(
      'An answer for k0, which this job was not sent.',
    );
    expect(emu.stats().faultsApplied.map((f) => f.type)).toEqual(['foreignKeys', 'foreignKeys']);
    // A third job is whole.
    expect(keysOf(await resultLines(ai, await createFileJob(ai, 2)))).toEqual(range(2));
  });

  it('inline: a file job answered with inlinedResponses (key in metadata), no responsesFile', async () => {
    const { emu, ai } = await setup({ jobs: [{ nth: 1, effect: { type: 'inline' } }] });
    const name = await createFileJob(ai, 3);
    const done = await finished(ai, name);
    expect(done.dest?.fileName).toBeUndefined();
    expect(done.dest?.inlinedResponses?.map((r) => r.metadata?.key)).toEqual(['k0', 'k1', 'k2']);
    const raw = await rawGet(emu, name);
    expect(raw.body.metadata.output.responsesFile).toBeUndefined();
    expect(raw.body.response.inlinedResponses.inlinedResponses).toHaveLength(3);
    expect((await finished(ai, await createFileJob(ai, 3))).dest?.fileName).toMatch(/^files\/batch-/);
  });
});

describe(`job faults with ${SDK_VARIANTS[0].label}`, () => {
  const { setup, createFileJob, finished, resultLines } = helpers(SDK_VARIANTS[0], start, temp);

  it('duplicateKeys, unknownKeys, malformed, lineErrors, longLines: each where configured', async () => {
    const { ai } = await setup({
      jobs: [
        { displayName: '^dup$', effect: { type: 'duplicateKeys', every: 4 } },
        { displayName: '^unknown$', effect: { type: 'unknownKeys', count: 3 } },
        { displayName: '^malformed$', effect: { type: 'malformed', every: 5 } },
        { displayName: '^errors$', effect: { type: 'lineErrors', every: 2 } },
        { displayName: '^long$', effect: { type: 'longLines', every: 5, bytes: 200_000 } },
      ],
    });
    const dup = await resultLines(ai, await createFileJob(ai, 10, 'dup'));
    expect(keysOf(dup)).toEqual(['k0', 'k1', 'k2', 'k3', 'k3', 'k4', 'k5', 'k6', 'k7', 'k7', 'k8', 'k9']);
    const [first, second] = [JSON.parse(dup[3] ?? ''), JSON.parse(dup[4] ?? '')];
    expect(first.response.candidates[0].content.parts[0].text).toBe(fakeAnswerText(request(3)));
    expect(second.response.candidates[0].content.parts[0].text).toBe(
      `${fakeAnswerText(request(3))} (duplicate)`,
    );
    expect(second.response.responseId).toBe(`${first.response.responseId}-dup`);

    const unknown = keysOf(await resultLines(ai, await createFileJob(ai, 10, 'unknown')));
    expect(unknown).toHaveLength(13);
    expect(unknown.filter((k) => range(10).includes(k))).toEqual(range(10));
    const invented = unknown.filter((k) => !range(10).includes(k));
    expect(invented).toHaveLength(3);
    expect(invented.every((k) => /^emulator-unknown-\d-/.test(k))).toBe(true);
    expect(unknown.at(-1)).toBe('k9'); // spread over the file, not appended

    const malformed = await resultLines(ai, await createFileJob(ai, 10, 'malformed'));
    expect(malformed).toHaveLength(10);
    const broken = malformed.flatMap((l, i) => {
      try {
        JSON.parse(l);
        return [];
      } catch {
        return [i];
      }
    });
    expect(broken).toEqual([4, 9]);

    const errorsJob = await createFileJob(ai, 10, 'errors');
    const errors = (await resultLines(ai, errorsJob)).map((l) => JSON.parse(l));
    expect(errors.map((r) => r.error?.code ?? 'ok')).toEqual([
      'ok',
      13,
      'ok',
      13,
      'ok',
      13,
      'ok',
      13,
      'ok',
      13,
    ]);
    expect(errors[1]).toEqual({ error: { code: 13, message: 'Internal error encountered.' }, key: 'k1' });

    const long = await resultLines(ai, await createFileJob(ai, 10, 'long'));
    expect(long.map((l) => l.length > 200_000)).toEqual([
      false,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      true,
    ]);
    const parts = JSON.parse(long[4] ?? '').response.candidates[0].content.parts;
    expect(parts[0].thought).toBe(true);
    expect(parts[1].text).toBe(fakeAnswerText(request(4)));
  });

  it('shuffle: lines out of order within bounded windows, every key once', async () => {
    const { ai } = await setup({ jobs: [{ effect: { type: 'shuffle' } }] });
    const keys = keysOf(await resultLines(ai, await createFileJob(ai, 2300)));
    expect(keys).not.toEqual(range(2300));
    expect([...keys].sort()).toEqual(range(2300).sort());
    // Window w (1000 lines) holds exactly the keys of input lines w·1000 … w·1000+999.
    for (const [w, size] of [
      [0, 1000],
      [1, 1000],
      [2, 300],
    ] as const) {
      const window = keys.slice(w * 1000, w * 1000 + size).map((k) => Number(k.slice(1)));
      expect(Math.min(...window)).toBe(w * 1000);
      expect(Math.max(...window)).toBe(w * 1000 + size - 1);
    }
  });

  it('outputNotReady: after SUCCEEDED the download answers 404 for a while, then works', async () => {
    const { ai } = await setup({ jobs: [{ effect: { type: 'outputNotReady', ms: 250 } }] });
    const name = await createFileJob(ai, 3);
    const done = await finished(ai, name);
    const out = join(temp(), 'early.jsonl');
    const err = (await ai.files
      .download({ file: done.dest?.fileName ?? '', downloadPath: out })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(404);
    expect(JSON.parse(err.message).error.status).toBe('NOT_FOUND');
    await until(async () => {
      try {
        await ai.files.download({ file: done.dest?.fileName ?? '', downloadPath: out });
        return true;
      } catch {
        return false;
      }
    });
    expect(keysOf(readFileSync(out, 'utf8').split('\n').slice(0, -1))).toEqual(range(3));
  });
});
