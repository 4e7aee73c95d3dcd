// HTTP fault knobs on batches.create, through the real SDK (2.x and 3.x): an error with retry hints,
// a dropped call with or without the job made, an unparsable answer, an input file gone at create.

import type { ApiError } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { emulators, SDK_VARIANTS, tempDirs } from '../helpers.js';
import { failure, listNames, MODEL, sdkSetup, uploader } from './faults-http-setup.js';

const start = emulators();
const temp = tempDirs();
const upload = uploader(temp);

describe.each(SDK_VARIANTS)('HTTP faults with $label', (variant) => {
  const setup = sdkSetup(start, variant);

  it('error: only the 2nd create answers 429 with Retry-After and RetryInfo; no job is created for it', async () => {
    const { emu, ai } = await setup({
      http: [
        {
          route: 'batches.create',
          nth: 2,
          action: { type: 'error', status: 429, retryAfterSeconds: 3, retryDelaySeconds: 1.5 },
        },
      ],
    });
    await ai.batches.create({ model: MODEL, src: [{ contents: 'one' }] });
    const err = (await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'two' }] }))) as ApiError;
    expect(err.status).toBe(429);
    expect(JSON.parse(err.message)).toEqual({
      error: {
        code: 429,
        message: 'Resource has been exhausted (e.g. check quota).',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
      },
    });
    await ai.batches.create({ model: MODEL, src: [{ contents: 'three' }] });
    expect(await listNames(emu, 'batches')).toHaveLength(2);
    const stats = emu.stats();
    expect(stats.batchesCreated).toBe(2);
    expect(stats.calls['batches.create']).toEqual({ 200: 2, 429: 1 });
    expect(stats.faultsApplied).toEqual([{ route: 'batches.create', type: 'error', n: 2 }]);
  });

  it('drop: the 1st create loses its connection before handling (no job); the next works', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'drop' } }],
    });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeInstanceOf(TypeError); // fetch failed
    expect(await listNames(emu, 'batches')).toEqual([]);
    await ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] });
    expect(emu.stats()).toMatchObject({
      batchesCreated: 1,
      calls: { 'batches.create': { dropped: 1, 200: 1 } },
    });
  });

  it('dropAfter: the 1st create IS accepted but never answered (scenario 3); list shows the job', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'dropAfter' } }],
    });
    const err = await failure(
      ai.batches.create({ model: MODEL, src: [{ contents: 'x' }], config: { displayName: 'chunk-7' } }),
    );
    expect(err).toBeInstanceOf(TypeError);
    const jobs = (await ai.batches.list({ config: { pageSize: 10 } })).page;
    expect(jobs.map((j) => j.displayName)).toEqual(['chunk-7']);
    expect(emu.stats().batchesCreated).toBe(1);
    expect(emu.stats().faultsApplied).toEqual([{ route: 'batches.create', type: 'dropAfter', n: 1 }]);
  });

  it('badJson: the 1st create answers 200 with an unparsable body, and the job exists', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'badJson' } }],
    });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeInstanceOf(SyntaxError);
    expect(await listNames(emu, 'batches')).toHaveLength(1);
    await ai.batches.create({ model: MODEL, src: [{ contents: 'y' }] });
    expect(await listNames(emu, 'batches')).toHaveLength(2);
  });

  it('expireInput: the 1st create finds its input file gone (403, file deleted); a re-upload works', async () => {
    const { emu, ai } = await setup({
      http: [{ route: 'batches.create', nth: 1, action: { type: 'expireInput' } }],
    });
    const src = await upload(ai);
    const err = (await failure(ai.batches.create({ model: MODEL, src }))) as ApiError;
    expect(err.status).toBe(403);
    expect(JSON.parse(err.message).error.status).toBe('PERMISSION_DENIED');
    expect(((await failure(ai.files.get({ name: src }))) as ApiError).status).toBe(403);
    const again = await upload(ai);
    await ai.batches.create({ model: MODEL, src: again });
    expect(emu.stats().batchesCreated).toBe(1);
  });
});
