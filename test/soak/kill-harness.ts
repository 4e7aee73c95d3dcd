// The kill test: run the pipeline in a child process, SIGKILL it at seeded random instants, rerun
// until it finishes, then check the invariants of the faults notes: the output is identical to an
// uninterrupted run (every key exactly once), and the jobs created equal the chunks plus the
// retries the state recorded (no create was paid twice).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../../src/util/random.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/gemini-batch.js');
const CHILD = join(ROOT, 'test/soak/kill-child.ts');

export interface KillOptions {
  seed: number;
  rows: number;
  perJob: number;
  /** Random transient API faults at this rate (0: none). */
  faultRate?: number;
  /** Most kills before letting a run finish. */
  maxKills?: number;
  keep?: boolean;
}

export interface KillReport {
  seed: number;
  runs: number;
  kills: number;
  chunks: number;
  jobsCreated: number;
  jobsExpected: number;
  problems: string[];
  dir: string;
}

/** A CSV of `rows` reviews with ids, deterministic from the seed. */
async function writeCsv(path: string, rows: number, seed: number): Promise<void> {
  const next = rng(seed);
  const words = [
    'great',
    'awful',
    'fine',
    'battery',
    'screen',
    'price',
    '"quoted"',
    'slow',
    'fast',
    'love',
    'hate',
  ];
  const out = createWriteStream(path);
  out.write('id,rating,review\n');
  for (let i = 0; i < rows; i++) {
    const n = 5 + Math.floor(next() * 30);
    const text = Array.from({ length: n }, () => words[Math.floor(next() * words.length)]).join(' ');
    const line = `r${String(i).padStart(7, '0')},${1 + Math.floor(next() * 5)},"${text.replace(/"/g, '""')}, ok"\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

async function startEmulator(
  dir: string,
  extra: string[],
): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'emulator', '--port', '0', '--dir', dir, '--pending-ms', '200', '--running-ms', '1200', ...extra],
    {
      stdio: ['ignore', 'pipe', process.env.GBS_SOAK_VERBOSE ? 'inherit' : 'ignore'],
    },
  );
  let out = '';
  child.stdout?.setEncoding('utf8');
  for await (const chunk of child.stdout as AsyncIterable<string>) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  return { child, baseUrl: out.split('\n')[0] ?? '' };
}

async function stats(baseUrl: string): Promise<{ batchesCreated: number }> {
  return (await fetch(`${baseUrl}/_emulator/stats`)).json() as Promise<{ batchesCreated: number }>;
}

function runChild(
  args: string[],
  killAfterMs: number | undefined,
): Promise<{ code: number | null; killed: boolean; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: ROOT,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr += d;
  });
  let killed = false;
  const timer =
    killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          killed = child.kill('SIGKILL');
        }, killAfterMs);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, killed: killed && code === null, stderr });
    });
  });
}

/** Jobs the run's state says it created: one per attempt with a job, over all chunks. */
function jobsInState(stateDir: string): { chunks: number; jobs: number } {
  let chunks = 0;
  let jobs = 0;
  const dir = join(stateDir, 'chunks');
  for (const name of readdirSync(dir)) {
    const path = join(dir, name, 'state.json');
    if (!existsSync(path)) continue;
    const state = JSON.parse(readFileSync(path, 'utf8')) as {
      requests: number;
      attempts: Array<{ job?: string }>;
    };
    if (state.requests > 0) chunks++;
    jobs += state.attempts.filter((a) => a.job).length;
  }
  return { chunks, jobs };
}

export async function killTest(options: KillOptions): Promise<KillReport> {
  const { seed, rows, perJob, faultRate = 0, maxKills = 12 } = options;
  const dir = mkdtempSync(join(tmpdir(), `gbs-kill-${seed}-`));
  const csv = join(dir, 'in.csv');
  await writeCsv(csv, rows, seed);
  const problems: string[] = [];
  const next = rng(seed ^ 0x9e3779b9);

  // The reference: the same pipeline, uninterrupted, on its own emulator without faults.
  const refEmu = await startEmulator(join(dir, 'emu-ref'), []);
  const reference = join(dir, 'reference.jsonl');
  const started = Date.now();
  const ref = await runChild(
    [csv, join(dir, 'state-ref'), reference, refEmu.baseUrl, String(perJob)],
    undefined,
  );
  const uninterruptedMs = Date.now() - started;
  refEmu.child.kill('SIGTERM');
  if (ref.code !== 0) throw new Error(`the reference run failed (seed ${seed}):\n${ref.stderr}`);

  const faults = faultRate > 0 ? ['--fault-seed', String(seed), '--fault-rate', String(faultRate)] : [];
  const emu = await startEmulator(join(dir, 'emu'), faults);
  const stateDir = join(dir, 'state');
  const out = join(dir, 'out.jsonl');
  let runs = 0;
  let kills = 0;
  try {
    for (;;) {
      runs++;
      // The first kill lands inside the uninterrupted run's time, so every seed is killed at least
      // once; later ones may come after a (shorter, resumed) run is done.
      const span = kills === 0 ? uninterruptedMs * 0.8 : uninterruptedMs * 1.2;
      const killAfter = kills < maxKills ? Math.floor(100 + next() * span) : undefined;
      const result = await runChild([csv, stateDir, out, emu.baseUrl, String(perJob)], killAfter);
      if (result.killed) {
        kills++;
        continue;
      }
      if (result.code !== 0) {
        problems.push(`run ${runs} exited ${result.code}: ${result.stderr.slice(-2000)}`);
        break;
      }
      break;
    }
    if (problems.length === 0) {
      const got = readFileSync(out, 'utf8');
      const want = readFileSync(reference, 'utf8');
      if (got !== want) problems.push('the output differs from the uninterrupted run');
      const keys = got
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { key: string }).key);
      if (new Set(keys).size !== keys.length) problems.push('a key appears twice');
      if (keys.length !== rows) problems.push(`${keys.length} results for ${rows} rows`);
      const leftovers = readdirSync(dir).filter((n) => n.startsWith('.out.jsonl.'));
      if (leftovers.length) problems.push(`temp output files left: ${leftovers.join(', ')}`);
    }
    const { batchesCreated } = await stats(emu.baseUrl);
    const { chunks, jobs } = jobsInState(stateDir);
    if (problems.length === 0 && batchesCreated !== jobs) {
      problems.push(
        `the emulator created ${batchesCreated} jobs, the state records ${jobs} (a create was paid twice)`,
      );
    }
    if (problems.length === 0 && faultRate === 0 && jobs !== chunks)
      problems.push(`${jobs} jobs for ${chunks} chunks without faults`);
    return { seed, runs, kills, chunks, jobsCreated: batchesCreated, jobsExpected: jobs, problems, dir };
  } finally {
    emu.child.kill('SIGTERM');
    if (!options.keep && problems.length === 0) rmSync(dir, { recursive: true, force: true });
  }
}
