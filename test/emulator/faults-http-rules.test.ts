// Which calls an HTTP fault rule hits, over raw HTTP: every route with `*`, the nth calls with times,
// and a delay that outlasts the client's timeout while the create still happens.

import { describe, expect, it } from 'vitest';
import { emulators, rawGet } from '../helpers.js';
import { failure, MODEL } from './faults-http-setup.js';

const start = emulators();

describe('HTTP faults over raw HTTP', () => {
  it('error on every route with `*` and nth 1: each route fails once, then works; 503 carries Retry-After', async () => {
    const emu = await start({
      faults: {
        http: [{ route: '*', nth: 1, action: { type: 'error', status: 503, retryAfterSeconds: 0 } }],
      },
    });
    for (const path of ['batches', 'files']) {
      const first = await fetch(`${emu.baseUrl}/v1beta/${path}`, { headers: { 'x-goog-api-key': 'k' } });
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBe('0');
      expect(await first.json()).toEqual({
        error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
      });
      expect((await rawGet(emu, path)).status).toBe(200);
    }
    expect(emu.stats().faultsApplied).toEqual([
      { route: 'batches.list', type: 'error', n: 1 },
      { route: 'files.list', type: 'error', n: 1 },
    ]);
  });

  it('nth as a list with times: calls 2, 3 and 5 fail, the others do not', async () => {
    const emu = await start({
      faults: {
        http: [{ route: 'batches.list', nth: [2, 5], times: 2, action: { type: 'error', status: 500 } }],
      },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await rawGet(emu, 'batches')).status);
    expect(statuses).toEqual([200, 500, 500, 200, 500, 500, 200]);
  });

  it('delay: the 1st get is answered after the delay; a client timeout then sees nothing, yet the create happened', async () => {
    const emu = await start({
      faults: {
        http: [
          { route: 'batches.list', nth: 1, action: { type: 'delay', ms: 300 } },
          { route: 'batches.create', nth: 1, action: { type: 'delay', ms: 400 } },
        ],
      },
    });
    let t = Date.now();
    expect((await rawGet(emu, 'batches')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    t = Date.now();
    await rawGet(emu, 'batches');
    expect(Date.now() - t).toBeLessThan(200);

    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: emu.baseUrl, timeout: 100 } });
    const err = await failure(ai.batches.create({ model: MODEL, src: [{ contents: 'x' }] }));
    expect(err).toBeDefined();
    expect(emu.stats().batchesCreated).toBe(1);
  });
});
