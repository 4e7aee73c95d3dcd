// Which job a job fault rule hits: rules count only the creates their displayName matches, and a rule
// with a rate picks its jobs from the seed, the same jobs again after setFaults with that seed.

import { describe, expect, it } from 'vitest';
import { emulators } from '../helpers.js';
import { MODEL } from './faults-jobs-setup.js';

const start = emulators();

describe('job faults over time', () => {
  it('job rules count only the creates their displayName matches; rate rules are seeded', async () => {
    const emu = await start({
      faults: {
        seed: 5,
        jobs: [
          { displayName: '^chunk-3$', nth: 1, effect: { type: 'stuck' } },
          { displayName: '^r-', rate: 0.5, effect: { type: 'shuffle' } },
        ],
      },
      pendingMs: 60_000,
    });
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI(emu.clientOptions());
    const create = async (displayName: string) =>
      (await ai.batches.create({ model: MODEL, src: [{ contents: 'x' }], config: { displayName } })).name;
    await create('chunk-1');
    const first3 = await create('chunk-3');
    await create('chunk-3');
    for (let i = 0; i < 20; i++) await create(`r-${i}`);
    const applied = emu.stats().faultsApplied;
    expect(applied[0]).toEqual({ job: first3, type: 'stuck', n: 1 });
    const shuffled = applied.slice(1).map((a) => a.n);
    expect(shuffled.length).toBeGreaterThan(4);
    expect(shuffled.length).toBeLessThan(16);

    emu.setFaults({
      seed: 5,
      jobs: [
        { displayName: '^chunk-3$', nth: 1, effect: { type: 'stuck' } },
        { displayName: '^r-', rate: 0.5, effect: { type: 'shuffle' } },
      ],
    });
    for (let i = 0; i < 20; i++) await create(`r-${i}`);
    expect(
      emu
        .stats()
        .faultsApplied.slice(1 + shuffled.length)
        .map((a) => a.n),
    ).toEqual(shuffled);
  });
});
