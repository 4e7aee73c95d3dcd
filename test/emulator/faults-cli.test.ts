// `gemini-batch emulator --faults / --fault-seed / --fault-rate`, spawned as a user runs it (needs
// `npm run build`, like test/cli/emulator.test.ts).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ApiError, GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { BIN, standaloneEmulator } from '../cli/cli.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

/** `gemini-batch emulator --port 0 …args`: its base URL. */
const launch = async (args: string[]) => (await standaloneEmulator(temp(), args)).url;

const stats = (baseUrl: string) => fetch(`${baseUrl}/_emulator/stats`).then((r) => r.json() as Promise<any>);

describe('gemini-batch emulator fault flags', () => {
  it('--faults with inline JSON: the 1st create answers 503, the job rule ends the 2nd job FAILED', async () => {
    const faults = {
      http: [
        { route: 'batches.create', nth: 1, action: { type: 'error', status: 503, retryAfterSeconds: 2 } },
      ],
      jobs: [{ nth: 1, effect: { type: 'end', state: 'FAILED', after: 0 } }],
    };
    const baseUrl = await launch(['--faults', JSON.stringify(faults)]);
    const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl } });
    const err = (await ai.batches
      .create({ model: 'gemini-2.5-flash', src: [{ contents: 'x' }] })
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(503);
    const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'x' }] });
    for (;;) {
      const j = await ai.batches.get({ name: job.name ?? '' });
      if (j.state === 'JOB_STATE_FAILED') break;
      expect(j.state).not.toBe('JOB_STATE_SUCCEEDED');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await stats(baseUrl)).faultsApplied).toEqual([
      { route: 'batches.create', type: 'error', n: 1 },
      { job: job.name, type: 'end', n: 1 },
    ]);
  });

  it('--faults FILE with --fault-seed and --fault-rate: random faults on the listed route only', async () => {
    const file = join(temp(), 'faults.json');
    writeFileSync(file, JSON.stringify({ random: { rate: 0.5, routes: ['files.list'], kinds: ['error'] } }));
    const baseUrl = await launch(['--faults', file, '--fault-seed', '9', '--fault-rate', '1']);
    const headers = { 'x-goog-api-key': 'k' };
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${baseUrl}/v1beta/files`, { headers })).status).toBeGreaterThanOrEqual(429);
      expect((await fetch(`${baseUrl}/v1beta/batches`, { headers })).status).toBe(200);
    }
    const current = await fetch(`${baseUrl}/_emulator/faults`).then((r) => r.json());
    expect(current).toEqual({
      faults: { seed: 9, random: { rate: 1, routes: ['files.list'], kinds: ['error'] } },
    });
  });

  it('exits 2 naming the bad field or flag, and documents the flags in --help', () => {
    const bad = spawnSync(
      process.execPath,
      [BIN, 'emulator', '--faults', '{"jobs":[{"effect":{"type":"dropKeys","every":-1}}]}'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('`jobs.0.effect.every`');
    const rate = spawnSync(process.execPath, [BIN, 'emulator', '--fault-rate', 'lots'], { encoding: 'utf8' });
    expect(rate.status).toBe(2);
    expect(rate.stderr).toContain('--fault-rate must be a number from 0 to 1');
    const help = spawnSync(process.execPath, [BIN, 'emulator', '--help'], { encoding: 'utf8' });
    for (const flag of ['--faults FILE|JSON', '--fault-seed N', '--fault-rate R'])
      expect(help.stdout).toContain(flag);
  });
});
