// Fault knobs in general: seeded random faults are reproducible, setFaults and the admin route
// replace the rules and reset the counters, options are validated, job faults survive a restart.

import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { type Emulator, type FaultOptions, startEmulator } from '../../src/emulator/index.js';
import { emulators, rawGet, tempDirs, until } from '../helpers.js';

const start = emulators();
const temp = tempDirs();

/** One raw call: its HTTP status, or `dropped` when the connection broke. */
async function outcome(emu: Emulator, path: string, init: RequestInit = {}): Promise<number | 'dropped'> {
  try {
    const res = await fetch(`${emu.baseUrl}/v1beta/${path}`, {
      ...init,
      headers: { 'x-goog-api-key': emu.apiKey, ...(init.headers as object) },
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'dropped';
  }
}

async function adminPost(emu: Emulator, faults: unknown) {
  const res = await fetch(`${emu.baseUrl}/_emulator/faults`, {
    method: 'POST',
    body: JSON.stringify(faults),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('seeded random faults', () => {
  async function run(faults: FaultOptions): Promise<{ seen: Array<number | 'dropped'>; emu: Emulator }> {
    const emu = await start({ faults });
    const seen: Array<number | 'dropped'> = [];
    for (let i = 0; i < 60; i++) {
      seen.push(await outcome(emu, 'batches'));
      // Calls of another route in between do not change what batches.list gets.
      if (i % 3 === 0) await outcome(emu, 'files');
    }
    return { seen, emu };
  }

  it('are the same for the same seed, differ for another seed, and come at about the rate', async () => {
    const a = await run({ seed: 42, random: { rate: 0.3, routes: ['batches.list'] } });
    const b = await run({ seed: 42, random: { rate: 0.3, routes: ['batches.list'] } });
    const c = await run({ seed: 43, random: { rate: 0.3, routes: ['batches.list'] } });
    expect(a.seen).toEqual(b.seen);
    expect(c.seen).not.toEqual(a.seen);
    const faults = a.seen.filter((s) => s !== 200);
    expect(faults.length).toBeGreaterThan(8);
    expect(faults.length).toBeLessThan(32);
    // The default kinds for a list: 503, 429, 500 and dropped connections; nothing else.
    expect(new Set(faults)).toEqual(new Set([503, 429, 500, 'dropped']));
    expect(a.emu.stats().faultsApplied).toEqual(b.emu.stats().faultsApplied);
    expect(a.emu.stats().faultsApplied.every((f) => f.route === 'batches.list')).toBe(true);
    expect(a.emu.stats().calls['files.list']).toEqual({ 200: 20 });
  });

  it('use only the listed kinds; a rate rule fires on about its share of calls, reproducibly', async () => {
    const emu = await start({
      faults: {
        seed: 7,
        random: { rate: 1, routes: ['files.list'], kinds: ['error'] },
        http: [{ route: 'batches.get', rate: 0.5, action: { type: 'error', status: 500 } }],
      },
    });
    const files = new Set<number | 'dropped'>();
    for (let i = 0; i < 12; i++) files.add(await outcome(emu, 'files'));
    expect(files).toEqual(new Set([503, 429, 500]));
    const job = await new GoogleGenAI(emu.clientOptions()).batches.create({
      model: 'gemini-2.5-flash',
      src: [{ contents: 'x' }],
    });
    const gets: Array<number | 'dropped'> = [];
    for (let i = 0; i < 40; i++) gets.push(await outcome(emu, job.name ?? ''));
    const failed = gets.filter((g) => g === 500).length;
    expect(failed).toBeGreaterThan(10);
    expect(failed).toBeLessThan(30);

    emu.setFaults({
      seed: 7,
      http: [{ route: 'batches.get', rate: 0.5, action: { type: 'error', status: 500 } }],
    });
    const again: Array<number | 'dropped'> = [];
    for (let i = 0; i < 40; i++) again.push(await outcome(emu, job.name ?? ''));
    expect(again).toEqual(gets);
  });
});

describe('setFaults and the admin route', () => {
  it('setFaults replaces the rules and resets the per-route counters', async () => {
    const rule: FaultOptions = {
      http: [{ route: 'batches.list', nth: 2, action: { type: 'error', status: 500 } }],
    };
    const emu = await start({ faults: rule });
    expect([
      await outcome(emu, 'batches'),
      await outcome(emu, 'batches'),
      await outcome(emu, 'batches'),
    ]).toEqual([200, 500, 200]);
    emu.setFaults(rule);
    expect([await outcome(emu, 'batches'), await outcome(emu, 'batches')]).toEqual([200, 500]);
    emu.setFaults({});
    expect([await outcome(emu, 'batches'), await outcome(emu, 'batches')]).toEqual([200, 200]);
    expect(emu.stats().faultsApplied).toEqual([
      { route: 'batches.list', type: 'error', n: 2 },
      { route: 'batches.list', type: 'error', n: 2 },
    ]);
  });

  it('POST /_emulator/faults (no key) does the same; GET shows the rules; GET /_emulator/stats the faults applied', async () => {
    const emu = await start();
    expect(await outcome(emu, 'files')).toBe(200);
    const set = await adminPost(emu, { http: [{ route: 'files.list', nth: 1, action: { type: 'drop' } }] });
    expect(set.status).toBe(200);
    expect(set.body.faults.http[0].action).toEqual({ type: 'drop' });
    expect(await outcome(emu, 'files')).toBe('dropped');
    expect(await outcome(emu, 'files')).toBe(200);
    const current = await fetch(`${emu.baseUrl}/_emulator/faults`).then((r) => r.json());
    expect(current).toEqual(set.body);
    const stats = (await fetch(`${emu.baseUrl}/_emulator/stats`).then((r) => r.json())) as any;
    expect(stats.faultsApplied).toEqual([{ route: 'files.list', type: 'drop', n: 1 }]);
    expect(stats.calls['files.list']).toEqual({ 200: 2, dropped: 1 });
  });

  it('refuses bad fault options with a message naming the field', async () => {
    const emu = await start();
    const bad = await adminPost(emu, {
      http: [{ route: 'batches.get', action: { type: 'error', status: 200 } }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('`http.0.action.status`');
    expect(() => emu.setFaults({ http: [{ route: 'nope' as never, action: { type: 'drop' } }] })).toThrow(
      /`http\.0\.route`/,
    );
    expect(() =>
      emu.setFaults({ http: [{ route: 'batches.get', action: { type: 'noUploadStatus' } }] }),
    ).toThrow(/`http\.0\.action\.type`: noUploadStatus applies only to upload/);
    expect(() => emu.setFaults({ http: [{ route: 'upload.start', action: { type: 'wrongSize' } }] })).toThrow(
      /`http\.0\.action\.type`: wrongSize applies only to upload\.chunk/,
    );
    expect(() => emu.setFaults({ jobs: [{ effect: { type: 'dropKeys', every: 0 } }] })).toThrow(
      /`jobs\.0\.effect\.every`/,
    );
    expect(() =>
      emu.setFaults({ jobs: [{ effect: { type: 'unknownState', state: 'BATCH_STATE_RUNNING', ms: 1 } }] }),
    ).toThrow(/`jobs\.0\.effect\.state`/);
    expect(() => emu.setFaults({ jobs: [{ effect: { type: 'foreignKeys', keys: [] } }] })).toThrow(
      /`jobs\.0\.effect\.keys`/,
    );
    expect(() => emu.setFaults({ jobs: [{ displayName: '(', effect: { type: 'stuck' } }] })).toThrow(
      /`jobs\.0\.displayName`: not a valid regular expression/,
    );
    await expect(startEmulator({ faults: { random: { rate: 2 } } })).rejects.toThrow(
      /`faults\.random\.rate`/,
    );
    // The rules in force did not change.
    expect(await outcome(emu, 'batches')).toBe(200);
  });
});

describe('job faults across a restart', () => {
  it('are stored with the batch: an emulator restarted on the same dir (without faults) still applies them', async () => {
    const dir = temp();
    const first = await startEmulator({
      dir,
      pendingMs: 300,
      faults: {
        jobs: [
          {
            nth: 1,
            effect: [
              { type: 'dropKeys', every: 2 },
              { type: 'outputNotReady', ms: 200 },
            ],
          },
        ],
      },
    });
    const ai1 = new GoogleGenAI(first.clientOptions());
    const job = await ai1.batches.create({
      model: 'gemini-2.5-flash',
      src: [1, 2, 3, 4].map((i) => ({ contents: `q${i}`, metadata: { key: `k${i}` } })),
    });
    expect(first.stats().faultsApplied).toEqual([
      { job: job.name, type: 'dropKeys', n: 1 },
      { job: job.name, type: 'outputNotReady', n: 1 },
    ]);
    await first.close();

    const second = await startEmulator({ dir, pendingMs: 300 });
    try {
      const ai2 = new GoogleGenAI(second.clientOptions());
      const done = await until(async () => {
        const j = await ai2.batches.get({ name: job.name ?? '' });
        return j.state === 'JOB_STATE_SUCCEEDED' ? j : undefined;
      });
      expect(done.dest?.inlinedResponses?.map((r) => r.metadata?.key)).toEqual(['k1', 'k3']);
      // A job created by the restarted emulator gets no faults.
      const other = await ai2.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'x' }] });
      const raw = await rawGet(second, other.name ?? '');
      expect(raw.body.metadata.state).toBe('BATCH_STATE_PENDING');
      expect(second.stats().faultsApplied).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
