// Helpers for the CLI tests: `gemini-batch` spawned as a user runs it (after `npm run build`), a
// standalone emulator whose stats outlive the CLI processes, and small input files.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { EmulatorStats } from '../../src/emulator/index.js';
import { until } from '../helpers.js';

export const BIN = new URL('../../bin/gemini-batch.js', import.meta.url).pathname;

/** The environment of a user with no key and no emulator settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const k of ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GEMINI_BASE_URL', 'GOOGLE_GENAI_USE_VERTEXAI'])
    if (!(k in extra)) delete env[k];
  return env;
}

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts `gemini-batch ...args` in `cwd`; output is collected as it comes. */
export function start(args: string[], cwd: string, env = cleanEnv()): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exit = once(child, 'close').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Runs `gemini-batch ...args` to the end. */
export async function cli(
  args: string[],
  cwd: string,
  env = cleanEnv(),
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const s = start(args, cwd, env);
  const code = await s.exit;
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/** JSON lines of --json output. */
export function events(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** Polls a synchronous check (the output so far) until it holds. */
export const waitFor = (check: () => boolean, timeoutMs = 15_000): Promise<boolean> =>
  until(async () => check(), timeoutMs);

/** `gemini-batch emulator` in its own process: jobs and stats outlive the CLI runs. */
export async function standaloneEmulator(
  cwd: string,
  args: string[] = [],
): Promise<{ url: string; child: ChildProcess; stats: () => Promise<EmulatorStats> }> {
  const s = start(['emulator', '--port', '0', ...args], cwd);
  await waitFor(() => s.stdout().includes('\n'));
  const url = s.stdout().split('\n')[0] as string;
  return {
    url,
    child: s.child,
    stats: async () => (await (await fetch(`${url}/_emulator/stats`)).json()) as EmulatorStats,
  };
}

export function writeCsv(dir: string, name: string, rows: Array<Record<string, string>>): string {
  const columns = Object.keys(rows[0] ?? {});
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const text = [columns.join(','), ...rows.map((r) => columns.map((c) => quote(r[c] ?? '')).join(','))].join(
    '\n',
  );
  writeFileSync(join(dir, name), `${text}\n`);
  return name;
}

export const reviews = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `r${String(i).padStart(4, '0')}`,
    review: `Review number ${i}: ${'good '.repeat(i % 5)}product`,
    product: i % 2 ? 'lamp' : 'phone, black',
  }));

/** `run` over the reviews.csv of `writeCsv(dir, 'reviews.csv', reviews(n))`, keyed by id: add the endpoint. */
export const RUN_REVIEWS: readonly string[] = [
  'run',
  '--input',
  'reviews.csv',
  '--prompt',
  'Classify: {{review}}',
  '--key',
  'id',
];
