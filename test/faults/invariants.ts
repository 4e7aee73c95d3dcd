// Shared by the fault-scenario tests (gemini-batch-faults.md): fast settings, and the invariants
// I1–I3 checked against the output, the emulator's record of the jobs it created, and the state dir.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import type { GeminiBatchOptions, ProgressEvent } from '../../src/index.js';
import type { BatchResult } from '../../src/types.js';
import { type RunResult, runRows } from '../pipeline/harness.js';

/** Fast polling and retries, for every scenario. */
export const FAST = {
  pollIntervalMs: 5,
  retry: { retries: 4, minTimeoutMs: 5, maxTimeoutMs: 50 },
} as const;

export const byId = { key: (row: { id: string }) => row.id };
export const prompt = (row: { text: string }) => row.text;

/** `gbs-<run>-c<chunk>-a<attempt>-<hash>` */
const DISPLAY_NAME = /^gbs-([0-9a-f]{12})-c(\d+)-a(\d+)-([0-9a-f]{12})$/;

export function runIdOf(stateDir: string): string {
  return (JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')) as { runId: string }).runId;
}

export interface ChunkStateJson {
  index: number;
  requests: number;
  rows: number;
  attempts: Array<{
    n: number;
    displayName: string;
    requests: number;
    job?: string;
    jobState?: string;
    phase: string;
    output?: string;
    resultsFile?: string;
    deadline?: boolean;
    createdAt?: string;
  }>;
}

export function chunkStates(stateDir: string): ChunkStateJson[] {
  const dir = join(stateDir, 'chunks');
  return readdirSync(dir)
    .filter((n) => /^\d{6}$/.test(n) && existsSync(join(dir, n, 'state.json')))
    .sort()
    .map((n) => JSON.parse(readFileSync(join(dir, n, 'state.json'), 'utf8')) as ChunkStateJson);
}

/** The jobs the emulator created for the run of `stateDir`, by chunk, in creation order. */
export function jobsByChunk(
  emu: Emulator,
  stateDir: string,
): Map<number, Array<{ attempt: number; name: string }>> {
  const runId = runIdOf(stateDir);
  const byChunk = new Map<number, Array<{ attempt: number; name: string }>>();
  for (const b of emu.stats().batches) {
    const m = DISPLAY_NAME.exec(b.displayName ?? '');
    if (!m || m[1] !== runId) continue;
    const chunk = Number(m[2]);
    const list = byChunk.get(chunk) ?? [];
    list.push({ attempt: Number(m[3]), name: b.name });
    byChunk.set(chunk, list);
  }
  return byChunk;
}

export interface InvariantInput {
  emu: Emulator;
  stateDir: string;
  /** Every input key, in input order. */
  keys: string[];
  results: BatchResult<any, any>[];
  /** Jobs a chunk may have: 1 + the job retries the scenario allows. */
  maxJobsPerChunk: number;
  /** Jobs the emulator had created before this run (the emulator may be shared). */
  createdBefore?: number;
  /** Whether results must come in input order (default true). */
  ordered?: boolean;
}

/**
 * I1: every input key once in the output, as a success or an error record (never an empty success);
 * I2: no key twice; I3: jobs per chunk ≤ maxJobsPerChunk, no display name created twice, and every
 * job the emulator created for this run is one the state knows (no create paid twice, none lost).
 */
export function checkInvariants(input: InvariantInput): void {
  const { emu, stateDir, keys, results, maxJobsPerChunk, createdBefore = 0, ordered = true } = input;
  const got = results.map((r) => r.key);
  // I2
  expect(new Set(got).size, 'a key appears twice in the output').toBe(got.length);
  // I1
  if (ordered) expect(got).toEqual(keys);
  else expect([...got].sort()).toEqual([...keys].sort());
  for (const r of results) {
    if (r.ok) {
      expect(r.error, `success ${r.key} with an error`).toBeUndefined();
      expect(typeof r.text === 'string' || r.output !== undefined, `empty success ${r.key}`).toBe(true);
    } else {
      expect(r.error?.code, `error record ${r.key} without a code`).toMatch(/^GBS_/);
      expect(r.error?.message, `error record ${r.key} without a message`).toBeTruthy();
    }
  }
  // I3
  const stats = emu.stats();
  const names = stats.batches.map((b) => b.displayName).filter((n): n is string => n !== undefined);
  expect(new Set(names).size, 'a display name was created twice (a create paid twice)').toBe(names.length);
  const byChunk = jobsByChunk(emu, stateDir);
  let ours = 0;
  for (const [chunk, jobs] of byChunk) {
    ours += jobs.length;
    expect(jobs.length, `chunk ${chunk} has ${jobs.length} jobs`).toBeLessThanOrEqual(maxJobsPerChunk);
    expect(
      jobs.map((j) => j.attempt).sort((a, b) => a - b),
      `chunk ${chunk}: attempts`,
    ).toEqual(jobs.map((_, i) => i + 1));
  }
  expect(stats.batchesCreated - createdBefore, 'jobs created that are not this run’s').toBe(ours);
  const states = chunkStates(stateDir);
  const inState = states.flatMap((s) => s.attempts.filter((a) => a.job).map((a) => a.job as string)).sort();
  expect(inState, 'the jobs the state records are the jobs the emulator created').toEqual(
    [...byChunk.values()]
      .flat()
      .map((j) => j.name)
      .sort(),
  );
  expect(byChunk.size, 'every chunk with requests has a job').toBe(
    states.filter((s) => s.requests > 0).length,
  );
}

/**
 * Runs `rows` through toRequests + geminiBatch against `emu` with the FAST settings (then
 * `options`), keyed by `id` and prompted with `text`, and checks I1–I3 on the result.
 */
export async function runScenario(
  emu: Emulator,
  rows: Array<{ id: string; text: string }>,
  options: Partial<GeminiBatchOptions> & { stateDir: string },
  expected: Pick<InvariantInput, 'maxJobsPerChunk' | 'createdBefore'>,
): Promise<RunResult> {
  const run = await runRows(emu, rows, prompt, { ...FAST, ...options }, byId);
  checkInvariants({
    emu,
    stateDir: options.stateDir,
    keys: rows.map((r) => r.id),
    results: run.results,
    ...expected,
  });
  return run;
}

/** The warnings of a run, by code. */
export function warnings(
  events: ProgressEvent[],
  code: string,
): Array<Extract<ProgressEvent, { type: 'warning' }>> {
  return events.filter(
    (e): e is Extract<ProgressEvent, { type: 'warning' }> => e.type === 'warning' && e.code === code,
  );
}

/** The faults the emulator says fired, by type. */
export function fired(emu: Emulator, type: string): number {
  return emu.stats().faultsApplied.filter((f) => f.type === type).length;
}
