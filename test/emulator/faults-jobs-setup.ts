// Shared by the job fault tests: input files of numbered requests, and per SDK variant an emulator
// with faults, a file job, its end state and the raw lines of its results, read through the SDK.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultOptions } from '../../src/emulator/index.js';
import { type emulators, type SDK_VARIANTS, type Sdk, type tempDirs, until } from '../helpers.js';

export const MODEL = 'gemini-2.5-flash';
const TERMINAL = new Set([
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
]);

export const request = (i: number) => ({ contents: [{ parts: [{ text: `prompt ${i}` }], role: 'user' }] });
export const key = (i: number) => `k${i}`;

function inputLines(n: number): string {
  return Array.from(
    { length: n },
    (_, i) => `${JSON.stringify({ key: key(i), request: request(i) })}\n`,
  ).join('');
}

type Variant = (typeof SDK_VARIANTS)[number];

export const keysOf = (lines: string[]) => lines.map((l) => JSON.parse(l).key);
export const range = (n: number) => Array.from({ length: n }, (_, i) => key(i));

/** Emulator + SDK helpers for one SDK variant. */
export function helpers(
  { make, apiVersion }: Variant,
  start: ReturnType<typeof emulators>,
  temp: ReturnType<typeof tempDirs>,
) {
  async function setup(faults: FaultOptions, options = {}) {
    const emu = await start({ faults, ...options });
    return { emu, ai: make(emu.clientOptions(apiVersion)) };
  }

  async function createFileJob(ai: Sdk, n: number, displayName?: string): Promise<string> {
    const path = join(temp(), 'in.jsonl');
    writeFileSync(path, inputLines(n));
    const file = await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } });
    const job = await ai.batches.create({
      model: MODEL,
      src: file.name ?? '',
      ...(displayName ? { config: { displayName } } : {}),
    });
    return job.name ?? '';
  }

  async function finished(ai: Sdk, name: string) {
    return until(async () => {
      const job = await ai.batches.get({ name });
      return TERMINAL.has(job.state ?? '') ? job : undefined;
    });
  }

  /** The raw lines of a job's results file, downloaded through the SDK. */
  async function resultLines(ai: Sdk, name: string): Promise<string[]> {
    const job = await finished(ai, name);
    const out = join(temp(), 'out.jsonl');
    await ai.files.download({ file: job.dest?.fileName ?? '', downloadPath: out });
    return readFileSync(out, 'utf8').split('\n').slice(0, -1);
  }

  return { setup, createFileJob, finished, resultLines };
}
