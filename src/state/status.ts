// What a state directory says about its run — chunks, jobs, their states and counts, rows answered,
// online answers — read without taking the lock, optionally brought up to date from the API.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GoogleGenAI } from '@google/genai';
import { GbsError } from '../errors.js';
import { GeminiApi } from '../gemini/api.js';
import { type JobStatus, TERMINAL_JOB_STATES, toStats } from '../gemini/job-status.js';
import { usageOf } from '../gemini/result.js';
import { describe, httpStatusOf } from '../gemini/retry.js';
import { addUsage, type BatchStats, emptyUsage } from '../progress.js';
import type { Usage } from '../types.js';
import { readLines } from '../util/lines.js';
import { readJsonFile } from './files.js';
import { ANSWERS_FILE, onlineAnswersDir } from './online-answers.js';

/** One job attempt of a chunk. */
export interface AttemptStatus {
  attempt: number;
  /** Where it stands in the state file: spooled → uploaded → creating → created → terminal → downloaded. */
  phase: string;
  displayName: string;
  requests: number;
  job?: string;
  /** `JOB_STATE_*`: from the API when `live`, else as last recorded. */
  state?: string;
  stats?: BatchStats;
  createdAt?: string;
  endedAt?: string;
  /** Since the job was created (until it ended, or now). */
  waitedMs?: number;
  /** State and stats come from a `batches.get` just now. */
  live: boolean;
}

export interface ChunkStatus {
  chunk: number;
  rows: number;
  requests: number;
  /** Every row has its final answer (or error) on disk. */
  settled: boolean;
  /** Rows answered so far (all when settled; else from the jobs' counts, capped at `rows`). */
  answered: number;
  attempts: AttemptStatus[];
}

export interface RunStatusReport {
  stateDir: string;
  /** From `manifest.json`; absent for a state used only by geminiOnline. */
  run?: { runId: string; createdAt: string; model: string; maxRequestsPerJob: number };
  chunks: ChunkStatus[];
  totals: {
    chunks: number;
    settled: number;
    rows: number;
    answered: number;
    /** Jobs by state (`JOB_STATE_RUNNING`…). */
    jobs: Record<string, number>;
  };
  /** Rows answered by geminiOnline in this state (its most complete answers file) and their usage. */
  online?: { answered: number; usage: Usage };
  /** Whether job states were asked from the API. */
  live: boolean;
  /** Why asking the API failed (the recorded states are shown instead). */
  liveError?: string;
}

type Json = Record<string, unknown>;

export function readJson(path: string): Json | undefined {
  let value: unknown;
  try {
    value = readJsonFile<unknown>(path);
    if (value === undefined) return undefined;
  } catch {
    // Reported below.
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  throw new GbsError('GBS_STATE_CORRUPT', `${path} is not a JSON object; the state cannot be read.`);
}

function attemptOf(raw: Json, now: number): AttemptStatus {
  const createdAt = typeof raw.createdAt === 'string' ? raw.createdAt : undefined;
  const endedAt = typeof raw.endedAt === 'string' ? raw.endedAt : undefined;
  const stats = toStats(raw.stats);
  const status: AttemptStatus = {
    attempt: Number(raw.n) || 0,
    phase: String(raw.phase ?? ''),
    displayName: String(raw.displayName ?? ''),
    requests: Number(raw.requests) || 0,
    live: false,
  };
  if (typeof raw.job === 'string') status.job = raw.job;
  if (typeof raw.jobState === 'string') status.state = raw.jobState;
  if (stats) status.stats = stats;
  if (createdAt) {
    status.createdAt = createdAt;
    status.waitedMs = Math.max(0, (endedAt ? Date.parse(endedAt) : now) - Date.parse(createdAt));
  }
  if (endedAt) status.endedAt = endedAt;
  return status;
}

export function readChunks(stateDir: string, now: number): ChunkStatus[] {
  const dir = join(stateDir, 'chunks');
  if (!existsSync(dir)) return [];
  const chunks: ChunkStatus[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => /^\d{6}$/.test(n))
    .sort()) {
    const raw = readJson(join(dir, name, 'state.json'));
    if (!raw) continue;
    const attempts = Array.isArray(raw.attempts)
      ? (raw.attempts as Json[]).map((a) => attemptOf(a, now))
      : [];
    chunks.push({
      chunk: Number(name),
      rows: Number(raw.rows) || 0,
      requests: Number(raw.requests) || 0,
      settled: raw.settled === true,
      answered: 0,
      attempts,
    });
  }
  return chunks;
}

/** The online answers file with the most lines, counted with its usage (streamed). */
async function readOnline(stateDir: string): Promise<RunStatusReport['online']> {
  const dir = onlineAnswersDir(stateDir);
  if (!existsSync(dir)) return undefined;
  let best: { answered: number; usage: Usage } | undefined;
  for (const name of readdirSync(dir).filter((n) => ANSWERS_FILE.test(n))) {
    const usage = emptyUsage();
    let answered = 0;
    for await (const line of readLines(join(dir, name))) {
      if (!line) continue;
      let parsed: { response?: Json };
      try {
        parsed = JSON.parse(line);
      } catch {
        break; // cut short by a crash
      }
      answered++;
      const u = parsed.response ? usageOf(parsed.response) : undefined;
      if (u) addUsage(usage, u);
    }
    if (!best || answered > best.answered) best = { answered, usage };
  }
  return best;
}

export function apiFor(client: GoogleGenAI, signal: AbortSignal | undefined): GeminiApi {
  return new GeminiApi(client, {
    signal: signal ?? new AbortController().signal,
    policy: { retries: 2, minTimeoutMs: 200, maxTimeoutMs: 2000 },
  });
}

/** Attempts whose job may still be running: created and not seen to end, or a create in doubt. */
export function liveAttempts(chunks: ChunkStatus[]): Array<{ chunk: number; attempt: AttemptStatus }> {
  const out: Array<{ chunk: number; attempt: AttemptStatus }> = [];
  for (const c of chunks) {
    for (const a of c.attempts) {
      if (a.phase === 'creating' || (a.phase === 'created' && !TERMINAL_JOB_STATES.has(a.state ?? '')))
        out.push({ chunk: c.chunk, attempt: a });
    }
  }
  return out;
}

/**
 * Reads a run's state directory (read-only, without its lock, so it works while the run goes on).
 * With a `client`, jobs that may still be running are asked for their current state and counts
 * (`batches.get`; a create in doubt is looked up by display name).
 *
 * @example
 * ```ts
 * import { readRunStatus } from 'gemini-batch-stream';
 * const report = await readRunStatus('.gemini-batch/reviews');
 * console.log(`${report.totals.answered}/${report.totals.rows} rows answered`, report.totals.jobs);
 * ```
 */
export async function readRunStatus(
  stateDir: string,
  options: { client?: GoogleGenAI; signal?: AbortSignal } = {},
): Promise<RunStatusReport> {
  const now = Date.now();
  const manifest = readJson(join(stateDir, 'manifest.json'));
  const chunks = readChunks(stateDir, now);
  const online = await readOnline(stateDir);
  if (!manifest && !online) {
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `${stateDir} holds no run state (no manifest.json, no online answers).`,
      {
        option: 'stateDir',
      },
    );
  }
  const report: RunStatusReport = {
    stateDir,
    chunks,
    totals: { chunks: chunks.length, settled: 0, rows: 0, answered: 0, jobs: {} },
    live: false,
  };
  if (manifest) {
    const fp = (manifest.fingerprint ?? {}) as Json;
    report.run = {
      runId: String(manifest.runId ?? ''),
      createdAt: String(manifest.createdAt ?? ''),
      model: String(fp.model ?? ''),
      maxRequestsPerJob: Number(fp.maxRequestsPerJob) || 0,
    };
  }
  if (online) report.online = online;
  if (options.client) {
    report.live = true;
    const api = apiFor(options.client, options.signal);
    for (const { attempt } of liveAttempts(chunks)) {
      try {
        const name = await api.jobOf(attempt);
        if (!name) continue;
        const job: JobStatus = await api.getJob(name);
        attempt.job = name;
        attempt.state = job.state;
        if (job.stats) attempt.stats = job.stats;
        attempt.live = true;
        if (TERMINAL_JOB_STATES.has(job.state)) delete attempt.waitedMs;
        else if (attempt.createdAt) attempt.waitedMs = now - Date.parse(attempt.createdAt);
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause ?? err;
        report.liveError ??= describe(cause);
        // A job that is gone leaves the others to ask; any other failure would repeat for each.
        if (httpStatusOf(cause) !== 404) break;
      }
    }
  }
  for (const c of chunks) {
    let answered = 0;
    for (const a of c.attempts) {
      // A job created and not seen to end has no recorded state: counted as CREATED (in flight).
      const state = a.state ?? (a.job ? 'CREATED' : undefined);
      if (state) report.totals.jobs[state] = (report.totals.jobs[state] ?? 0) + 1;
      if (a.stats) answered += a.stats.successfulRequestCount + a.stats.failedRequestCount;
    }
    c.answered = c.settled ? c.rows : Math.min(c.rows, answered);
    report.totals.rows += c.rows;
    report.totals.answered += c.answered;
    if (c.settled) report.totals.settled++;
  }
  return report;
}
