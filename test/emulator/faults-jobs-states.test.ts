// Job fault knobs on how a job ends, through the real SDK: CANCELLED, FAILED or EXPIRED early with or
// without partial output, stuck in PENDING until it expires, or in an unknown state for a while.

import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulators, rawGet, SDK_VARIANTS, tempDirs, until } from '../helpers.js';
import { helpers, key, keysOf, MODEL, range } from './faults-jobs-setup.js';

const start = emulators();
const temp = tempDirs();

describe.each(SDK_VARIANTS)('job faults with $label', (variant) => {
  const { setup, finished } = helpers(variant, start, temp);

  it('end CANCELLED on an inline job keeps the partial inline results', async () => {
    const { emu, ai } = await setup({ jobs: [{ effect: { type: 'end', state: 'CANCELLED', after: 0.5 } }] });
    const job = await ai.batches.create({
      model: MODEL,
      src: [0, 1, 2, 3].map((i) => ({ contents: `q${i}`, metadata: { key: key(i) } })),
    });
    const done = await finished(ai, job.name ?? '');
    expect(done.state).toBe('JOB_STATE_CANCELLED');
    expect(done.dest?.inlinedResponses?.map((r) => r.metadata?.key)).toEqual(['k0', 'k1']);
    expect((await rawGet(emu, job.name ?? '')).body.error.code).toBe(1);
  });
});

describe(`job faults with ${SDK_VARIANTS[0].label}`, () => {
  const { setup, createFileJob, finished, resultLines } = helpers(SDK_VARIANTS[0], start, temp);

  it('end: FAILED after half its lines with the partial output; EXPIRED without output', async () => {
    const { emu, ai } = await setup({
      jobs: [
        { nth: 1, effect: { type: 'end', state: 'FAILED' } },
        { nth: 2, effect: { type: 'end', state: 'EXPIRED', after: 0.3, partial: false } },
      ],
    });
    const failedJob = await createFileJob(ai, 10);
    const failed = await finished(ai, failedJob);
    expect(failed.state).toBe('JOB_STATE_FAILED');
    const raw = await rawGet(emu, failedJob);
    expect(raw.body.error).toEqual({
      code: 13,
      message: 'The batch failed: an internal error occurred while processing it.',
    });
    expect(raw.body.metadata.batchStats).toEqual({
      requestCount: '10',
      successfulRequestCount: '5',
      pendingRequestCount: '5',
    });
    expect(keysOf(await resultLines(ai, failedJob))).toEqual(range(5));

    const expiredJob = await createFileJob(ai, 10);
    const expired = await finished(ai, expiredJob);
    expect(expired.state).toBe('JOB_STATE_EXPIRED');
    expect(expired.dest).toBeUndefined();
    expect((await rawGet(emu, expiredJob)).body.error.code).toBe(4);
    // A third job is not affected.
    expect((await finished(ai, await createFileJob(ai, 3))).state).toBe('JOB_STATE_SUCCEEDED');
  });
});

describe('job faults over time', () => {
  async function state(emu: Emulator, name: string): Promise<string> {
    return (await rawGet(emu, name)).body.metadata.state;
  }

  it('stuck: the 1st job stays PENDING until it expires; another stuck job can be cancelled; the rest run', async () => {
    const emu = await start({
      expireAfterMs: 500,
      faults: { jobs: [{ nth: [1, 2], effect: { type: 'stuck' } }] },
    });
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI(emu.clientOptions());
    const stuck = (await ai.batches.create({ model: MODEL, src: [{ contents: 'a' }] })).name ?? '';
    const cancelled = (await ai.batches.create({ model: MODEL, src: [{ contents: 'b' }] })).name ?? '';
    const normal = (await ai.batches.create({ model: MODEL, src: [{ contents: 'c' }] })).name ?? '';
    await until(async () => (await state(emu, normal)) === 'BATCH_STATE_SUCCEEDED');
    expect(await state(emu, stuck)).toBe('BATCH_STATE_PENDING');
    await ai.batches.cancel({ name: cancelled });
    expect(await state(emu, cancelled)).toBe('BATCH_STATE_CANCELLED');
    await until(async () => (await state(emu, stuck)) === 'BATCH_STATE_EXPIRED');
  });

  it('unknownState: reports the unknown state for a while (the SDK passes it through), then succeeds', async () => {
    const emu = await start({
      faults: { jobs: [{ effect: { type: 'unknownState', state: 'BATCH_STATE_PAUSED', ms: 300 } }] },
    });
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI(emu.clientOptions());
    const job = await ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] });
    const paused = await until(async () => {
      const j = await ai.batches.get({ name: job.name ?? '' });
      return j.state === ('BATCH_STATE_PAUSED' as never) ? j : undefined;
    });
    expect(paused.state).toBe('BATCH_STATE_PAUSED');
    const raw = await rawGet(emu, job.name ?? '');
    expect(raw.body.done).toBeUndefined();
    const done = await until(async () => {
      const j = await ai.batches.get({ name: job.name ?? '' });
      return j.state === 'JOB_STATE_SUCCEEDED' ? j : undefined;
    });
    expect(done.dest?.inlinedResponses).toHaveLength(1);
  });
});
