// `gemini-batch status` (what a run's state directory says, live from the API when it can be asked)
// and `gemini-batch cancel` (cancel the run's jobs that may still be running).

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cancelRun, type RunStatusReport, readRunStatus } from '../index.js';
import { processedNote } from '../progress.js';
import {
  type Connection,
  connect,
  type Endpoint,
  endpointFrom,
  type Marker,
  readMarker,
} from './endpoint.js';
import { count, duration, shortState } from './format.js';
import { EXIT, UsageError } from './usage.js';

const FLAGS = {
  state: { type: 'string' },
  emulator: { type: 'boolean' },
  'emulator-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const STATUS_HELP = `Usage: gemini-batch status --state DIR [options]

Shows a run from its state directory (read-only; works while the run goes on): chunks, job names,
states, batchStats (requests done / failed), time waited, rows answered, online answers.

      --state DIR          the run's state directory ('gemini-batch run' prints it at start)
      --emulator-url URL   ask the emulator at URL for the jobs' current states
      --emulator           the same, for a run made with --emulator (its jobs are in DIR/emulator)
      --json               the report as one JSON object on stdout
  -h, --help               show this help

With GEMINI_API_KEY set (and a state from the Gemini API) the jobs that may still be running are
asked for their current state; otherwise the states recorded in the state directory are shown.

Exit codes: 0 done; 2 bad usage (no --state, not a state directory); 3 failed.

Examples:
  gemini-batch status --state .gemini-batch/reviews-1a2b3c4d
  gemini-batch status --state .gemini-batch/reviews-1a2b3c4d-emulator --emulator-url http://127.0.0.1:8788 --json
`;

export const CANCEL_HELP = `Usage: gemini-batch cancel --state DIR [options]

Cancels the run's jobs that may still be running: every job recorded as created and not seen to
end, and every create in doubt (found by its display name). Cancelled jobs keep what they
answered; a later 'gemini-batch run' with the same flags sends the rest in new jobs.

      --state DIR          the run's state directory
      --emulator-url URL   the jobs are on the emulator at URL
      --emulator           the run was made with --emulator (its jobs are in DIR/emulator)
      --json               the result as JSON on stdout
  -h, --help               show this help

Needs GEMINI_API_KEY (jobs on the Gemini API) or an emulator flag.

Exit codes: 0 done; 2 bad usage; 3 failed.

Example:
  gemini-batch cancel --state .gemini-batch/reviews-1a2b3c4d
`;

type Values = { state?: string; emulator?: boolean; 'emulator-url'?: string; json?: boolean; help?: boolean };

function stateDirOf(values: Values): string {
  const dir = values.state;
  if (!dir)
    throw new UsageError("--state DIR is required (the directory 'gemini-batch run' printed at start)");
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--state: no such directory: ${dir}`);
  return dir;
}

/** The endpoint to ask about the state's jobs: a flag, or the API key for a state of real answers. */
function endpointFor(
  values: Values,
  stateDir: string,
  marker: Marker | undefined,
  required: boolean,
): Endpoint | undefined {
  const explicit = values.emulator || values['emulator-url'] !== undefined;
  const endpoint = endpointFrom(values, false);
  if (!explicit && marker?.answers === 'fake') {
    if (required)
      throw new UsageError(
        `${stateDir} holds a run on an emulator (${marker.endpoint}): pass --emulator-url URL, or --emulator for a run made with --emulator.`,
      );
    return undefined;
  }
  if (!endpoint && required)
    throw new UsageError(
      'No API key. Set GEMINI_API_KEY for jobs on the Gemini API, or pass --emulator-url URL (or --emulator) for jobs on an emulator.',
    );
  return endpoint;
}

/** The library's refusal of a state directory, as a usage error naming --state (exit 2). */
async function readingState<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if ((err as { code?: string }).code === 'GBS_INVALID_OPTION')
      throw new UsageError(`--state: ${(err as Error).message}`);
    throw err;
  }
}

async function open(endpoint: Endpoint | undefined, stateDir: string): Promise<Connection | undefined> {
  if (!endpoint) return undefined;
  if (endpoint.kind === 'emulator' && !existsSync(join(stateDir, 'emulator')))
    throw new UsageError(
      `--emulator: ${stateDir} has no emulator jobs (was the run made with --emulator-url?)`,
    );
  return connect(endpoint, endpoint.kind === 'emulator' ? join(stateDir, 'emulator') : undefined);
}

function statusText(r: RunStatusReport, label: string | undefined, liveHint: string): string[] {
  const lines: string[] = [];
  if (r.run) {
    const age = Date.now() - Date.parse(r.run.createdAt);
    lines.push(
      `State ${r.stateDir}: run ${r.run.runId}, model ${r.run.model}, started ${r.run.createdAt} (${duration(age)} ago).`,
    );
    const t = r.totals;
    lines.push(
      `Chunks: ${count(t.chunks)}, ${count(t.settled)} settled · rows ${count(t.rows)}, ${t.settled === t.chunks ? '' : 'about '}${count(t.answered)} answered.`,
    );
    const jobs = Object.entries(t.jobs)
      .map(([s, n]) => `${n} ${shortState(s).toLowerCase()}`)
      .join(', ');
    const source = r.live
      ? r.liveError
        ? `recorded states: asking ${label} failed: ${r.liveError}`
        : `live from ${label}`
      : `as last recorded; ${liveHint}`;
    lines.push(`Jobs: ${jobs || 'none yet'} (${source}).`);
    for (const c of r.chunks) {
      for (const a of c.attempts) {
        const s = a.stats;
        const counts = s
          ? ` ${count(s.successfulRequestCount + s.failedRequestCount)}/${count(s.requestCount)} done, ${count(s.failedRequestCount)} failed`
          : ` ${count(a.requests)} requests`;
        const state = a.state ? shortState(a.state) : a.phase;
        const waited = a.waitedMs !== undefined ? ` · waited ${duration(a.waitedMs)}` : '';
        lines.push(
          `  chunk ${c.chunk} attempt ${a.attempt}: ${state.padEnd(9)}${counts}${waited} · ${a.job ?? a.displayName}`,
        );
      }
    }
  } else lines.push(`State ${r.stateDir}: online answers only.`);
  if (r.online) {
    const u = r.online.usage;
    lines.push(
      `Online answers kept: ${count(r.online.answered)} rows (${count(u.promptTokens)} tokens in, ${count(u.outputTokens + u.thoughtsTokens)} out).`,
    );
  }
  return lines;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(STATUS_HELP);
    return EXIT.ok;
  }
  const stateDir = stateDirOf(values);
  const marker = readMarker(stateDir);
  const endpoint = endpointFor(values, stateDir, marker, false);
  let conn: Connection | undefined;
  let liveHint =
    marker?.answers === 'fake'
      ? 'pass --emulator (a run made with --emulator) or --emulator-url URL for live states'
      : 'set GEMINI_API_KEY for live states';
  try {
    conn = await open(endpoint, stateDir);
  } catch (err) {
    // A run going on with --emulator holds its emulator (and so its jobs) in its own process: a
    // second emulator here would run them again. Its state as recorded is what can be shown.
    if ((err as { code?: string }).code !== 'GBS_STATE_LOCKED') throw err;
    liveHint = 'a run with --emulator is going on: its jobs live in that process';
  }
  try {
    const report = await readingState(() => readRunStatus(stateDir, conn ? { client: conn.client } : {}));
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${statusText(report, conn?.label, liveHint).join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await conn?.close();
  }
}

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(CANCEL_HELP);
    return EXIT.ok;
  }
  const stateDir = stateDirOf(values);
  const endpoint = endpointFor(values, stateDir, readMarker(stateDir), true);
  const conn = (await open(endpoint, stateDir)) as Connection;
  try {
    const report = await readingState(() => cancelRun(stateDir, { client: conn.client }));
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return EXIT.ok;
    }
    const lines =
      report.cancelled.length === 0
        ? ['No job to cancel: none of the run is in flight.']
        : [
            `Asked ${conn.label} to cancel ${report.cancelled.length} job(s):`,
            ...report.cancelled.map(
              (c) => `  chunk ${c.chunk} attempt ${c.attempt}: ${c.job} (${processedNote(c.stats)} so far)`,
            ),
          ];
    for (const n of report.notFound)
      lines.push(`  chunk ${n.chunk} attempt ${n.attempt}: no job named ${n.displayName} was created`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
