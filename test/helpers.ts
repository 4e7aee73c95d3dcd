// Shared test helpers: an emulator per test file, the SDK versions under test, temp dirs.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleGenAI as GoogleGenAI2 } from '@google/genai';
import { GoogleGenAI as GoogleGenAI3 } from '@google/genai-v3';
import { afterAll, afterEach } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../src/emulator/index.js';

/** The SDK builds and API versions every protocol test runs against. */
export const SDK_VARIANTS = [
  // `wire` / `upload`: the versions that must appear in the paths the SDK calls (2.x always
  // uploads to /upload/v1beta; 3.x follows the API version).
  {
    label: '@google/genai 2.x, v1beta (default)',
    make: (o: object) => new GoogleGenAI2(o),
    apiVersion: undefined,
    wire: 'v1beta',
    upload: 'v1beta',
  },
  {
    label: '@google/genai 2.x, apiVersion v1',
    make: (o: object) => new GoogleGenAI2(o),
    apiVersion: 'v1',
    wire: 'v1',
    upload: 'v1beta',
  },
  {
    label: '@google/genai 3.x, v1 (default)',
    make: (o: object) => new GoogleGenAI3(o) as unknown as GoogleGenAI2,
    apiVersion: undefined,
    wire: 'v1',
    upload: 'v1',
  },
] as const;

export type Sdk = GoogleGenAI2;

/** Starts emulators on demand and closes them all after the file's tests. */
export function emulators() {
  const started: Emulator[] = [];
  afterAll(async () => {
    await Promise.all(started.map((e) => e.close()));
  });
  return async (options: EmulatorOptions = {}): Promise<Emulator> => {
    const emu = await startEmulator(options);
    started.push(emu);
    return emu;
  };
}

/** A fresh temp directory, removed after each test. */
export function tempDirs() {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return (prefix = 'gbs-test-'): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function until<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The raw Operation JSON, to check what the SDK hides (batchStats, error, response). */
export async function rawGet(emu: Emulator, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${emu.baseUrl}/v1beta/${path}`, { headers: { 'x-goog-api-key': emu.apiKey } });
  return { status: res.status, body: await res.json() };
}

/** The records of JSON Lines text: every line must parse, none may be blank (a final newline ends the last). */
export function parseJsonl<T = any>(text: string): T[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => JSON.parse(line) as T);
}

/** The records of a JSON Lines file (see parseJsonl). */
export function readJsonl<T = any>(path: string): T[] {
  return parseJsonl<T>(readFileSync(path, 'utf8'));
}
