// The API key never leaks: not into the state directory (manifest, chunk state, spool files,
// results), the output, progress events, error messages and their causes, nor the emulator's log.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import type { Emulator, EmulatorOptions } from '../src/emulator/index.js';
import {
  type BatchResult,
  GbsError,
  type GeminiBatchOptions,
  geminiBatch,
  jsonlSink,
  type ProgressEvent,
  toRequests,
} from '../src/index.js';
import { emulators, tempDirs } from './helpers.js';

const start = emulators();
const temp = tempDirs();

const KEY = 'not-a-real-key-FAKE-test-key-0123456789';
/** Parts of the key that would still give it away. */
const FRAGMENTS = [KEY, 'FAKE-test-key', '0123456789'];

function leaks(text: string): string[] {
  return FRAGMENTS.filter((f) => text.includes(f));
}

/** Every file under `dir`, with its text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, text: readFileSync(path, 'latin1') });
  }
  return out;
}

/** An error, its causes, and everything inspect shows of them (fields, stack, nested objects). */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    parts.push(String((e as Error).message), String((e as Error).stack), inspect(e, { depth: 8 }));
    try {
      parts.push(JSON.stringify(e));
    } catch {
      // circular: inspect has it
    }
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/** An emulator that accepts only KEY, with `faults`, and the lines it logs. */
async function keyedEmulator(faults: EmulatorOptions['faults']): Promise<{ emu: Emulator; log: string[] }> {
  const log: string[] = [];
  const emu = await start({ apiKey: KEY, log: (line) => log.push(line), faults });
  return { emu, log };
}

const rows = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, text: `secret-free prompt ${i}` }));

async function run(
  emu: Emulator,
  stateDir: string,
  out: string,
  options: Partial<GeminiBatchOptions> = {},
  apiKey = KEY,
): Promise<{ results: BatchResult[]; events: ProgressEvent[] }> {
  const events: ProgressEvent[] = [];
  const results: BatchResult[] = [];
  await pipeline(
    Readable.from(rows),
    toRequests((r: { id: string; text: string }) => r.text, { key: (r) => r.id }),
    geminiBatch({
      client: new GoogleGenAI({ apiKey, httpOptions: { baseUrl: emu.baseUrl } }),
      model: 'gemini-2.5-flash',
      stateDir,
      maxRequestsPerJob: 4,
      pollIntervalMs: 5,
      retry: { retries: 4, minTimeoutMs: 5, maxTimeoutMs: 50 },
      includeResponse: true,
      onProgress: (e) => events.push(e),
      ...options,
    }),
    async function* (source: AsyncIterable<BatchResult>) {
      for await (const r of source) {
        results.push(r);
        yield r;
      }
    },
    jsonlSink(out),
  );
  return { results, events };
}

describe('the API key', () => {
  it('never appears in the state dir, the output, progress events, error messages or the emulator log', async () => {
    const { emu, log } = await keyedEmulator({
      http: [
        { route: 'upload.chunk', nth: 1, action: { type: 'truncate' } },
        { route: 'batches.create', nth: 1, action: { type: 'error', status: 503, retryAfterSeconds: 0 } },
        { route: 'batches.create', nth: 2, action: { type: 'dropAfter' } },
        { route: 'batches.get', nth: 2, action: { type: 'error', status: 500 } },
      ],
      jobs: [
        { nth: 1, effect: { type: 'end', state: 'FAILED', after: 0.5 } },
        {
          nth: 2,
          effect: [
            { type: 'lineErrors', every: 2 },
            { type: 'unknownKeys', count: 1 },
          ],
        },
      ],
    });
    const dir = temp();
    const stateDir = join(dir, 'state');
    const out = join(dir, 'out.jsonl');
    const { results, events } = await run(emu, stateDir, out);
    expect(results).toHaveLength(rows.length);
    // The faults fired, so retries, warnings and resubmissions were reported.
    expect(events.some((e) => e.type === 'retry')).toBe(true);
    expect(events.some((e) => e.type === 'warning')).toBe(true);

    const stateFiles = filesUnder(stateDir);
    const names = stateFiles.map((f) => f.path.slice(stateDir.length + 1));
    expect(names).toContain('manifest.json');
    expect(names).toContain('chunks/000000/state.json');
    expect(names.some((n) => /requests(-\d+)?\.jsonl$/.test(n))).toBe(true);
    expect(names.some((n) => /rows\.jsonl$/.test(n))).toBe(true);
    expect(names.some((n) => /results-\d+\.jsonl$/.test(n))).toBe(true);
    for (const f of [...stateFiles, { path: out, text: readFileSync(out, 'utf8') }]) {
      expect(leaks(f.text), f.path).toEqual([]);
    }
    expect(leaks(JSON.stringify(events))).toEqual([]);
    expect(leaks(JSON.stringify(results))).toEqual([]);
    expect(log.length).toBeGreaterThan(10);
    expect(leaks(log.join('\n'))).toEqual([]);
  });

  it('never appears in the error of a failed call (an HTTP 400), nor in that of a rejected key', async () => {
    const { emu, log } = await keyedEmulator({
      http: [
        {
          route: 'batches.create',
          nth: 1,
          action: { type: 'error', status: 400, message: 'Request contains an invalid argument.' },
        },
      ],
    });
    const dir = temp();
    const events: ProgressEvent[] = [];
    const err = await run(emu, join(dir, 'state'), join(dir, 'out.jsonl'), {
      onProgress: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_API_ERROR');
    expect((err as GbsError).message).toMatch(/400/);
    expect((err as GbsError).cause).toBeDefined();
    expect(leaks(errorText(err))).toEqual([]);
    expect(leaks(JSON.stringify(events))).toEqual([]);
    for (const f of filesUnder(join(dir, 'state'))) expect(leaks(f.text), f.path).toEqual([]);

    // A wrong key is refused (400 API_KEY_INVALID); the error does not repeat the key it was given.
    const wrong = 'not-a-real-key-FAKE-test-key-0123456789-wrong';
    const err2 = await run(emu, join(temp(), 'state'), join(temp(), 'out.jsonl'), {}, wrong).catch(
      (e: unknown) => e,
    );
    expect(err2).toBeInstanceOf(GbsError);
    expect(errorText(err2)).toMatch(/API key not valid/);
    expect(leaks(errorText(err2))).toEqual([]);
    expect(leaks(log.join('\n'))).toEqual([]);
  });
});
