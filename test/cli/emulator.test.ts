// `gemini-batch emulator` spawned as a user runs it: prints its base URL, serves the SDK, keeps
// state in --dir across a restart, stops cleanly on SIGTERM.

import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers.js';
import { BIN, standaloneEmulator } from './cli.js';

const temp = tempDirs();

const launch = async (args: string[]) => {
  const { child, url } = await standaloneEmulator(temp(), args);
  return { child, baseUrl: url };
};

describe('gemini-batch emulator', () => {
  it('prints its base URL, serves the SDK, keeps jobs in --dir across a restart, exits 0 on SIGTERM', async () => {
    const dir = temp();
    const first = await launch(['--dir', dir, '--api-key', 'cli-key']);
    expect(first.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ai = new GoogleGenAI({ apiKey: 'cli-key', httpOptions: { baseUrl: first.baseUrl } });
    const job = await ai.batches.create({
      model: 'gemini-2.5-flash',
      src: [{ contents: 'hello' }],
      config: { displayName: 'cli' },
    });
    first.child.kill('SIGTERM');
    const [code] = await once(first.child, 'exit');
    expect(code).toBe(0);

    const second = await launch(['--dir', dir, '--api-key', 'cli-key']);
    const ai2 = new GoogleGenAI({ apiKey: 'cli-key', httpOptions: { baseUrl: second.baseUrl } });
    expect((await ai2.batches.get({ name: job.name ?? '' })).displayName).toBe('cli');
  });

  it('exits 2 with a message naming a bad flag', () => {
    const res = spawnSync(process.execPath, [BIN, 'emulator', '--pending-ms', 'soon'], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--pending-ms must be a whole number');
    const unknown = spawnSync(process.execPath, [BIN, 'emulator', '--colour'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
  });
});
