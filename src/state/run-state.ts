// The state directory of a run: `manifest.json` (run id, what the run was built from) and one
// `chunks/NNNNNN/` folder per chunk with its spool files, results and a `state.json` rewritten
// atomically before and after every remote side effect. It is what a rerun resumes from.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { GbsError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './files.js';
import { acquireLock, IN_PROCESS_WAIT_MS, inProcessRelease, type Lock } from './lock.js';

/** The layout version of a state directory's files (manifest.json, chunk states). */
export const STATE_FORMAT = 1;

/** What must be the same for a rerun to reuse a state: it decides how rows become chunks and requests. */
export interface RunFingerprint {
  model: string;
  maxRequestsPerJob: number;
  maxBytesPerJob: number;
  /** sha256 of the JSON Schema sent for `outputSchema`, or null. */
  outputSchema: string | null;
}

const fingerprintSchema = z.object({
  model: z.string(),
  maxRequestsPerJob: z.number(),
  maxBytesPerJob: z.number(),
  outputSchema: z.string().nullable(),
});

const manifestSchema = z.object({
  format: z.literal(STATE_FORMAT),
  runId: z.string().regex(/^[0-9a-f]{12}$/),
  createdAt: z.string(),
  fingerprint: fingerprintSchema,
});

export type RunManifest = z.infer<typeof manifestSchema>;

/** Where one job attempt of a chunk stands; each step is saved before the next side effect. */
export type AttemptPhase =
  /** Its requests file is written. */
  | 'spooled'
  /** The requests file is uploaded (`file` is set). */
  | 'uploaded'
  /** A create is about to be (or was) sent; if its answer was lost, the job is found by `displayName`. */
  | 'creating'
  /** The job exists (`job` is set). */
  | 'created'
  /** The job ended (`jobState`; `output` when it has a results file to download). */
  | 'terminal'
  /** Its results are on disk (`resultsFile`). */
  | 'downloaded';

const attemptSchema = z.object({
  n: z.number().int().min(1),
  displayName: z.string(),
  requestsFile: z.string(),
  requests: z.number().int().min(0),
  bytes: z.number().int().min(0),
  phase: z.enum(['spooled', 'uploaded', 'creating', 'created', 'terminal', 'downloaded']),
  file: z.string().optional(),
  job: z.string().optional(),
  jobState: z.string().optional(),
  createdAt: z.string().optional(),
  endedAt: z.string().optional(),
  output: z.string().optional(),
  resultsFile: z.string().optional(),
  stats: z.record(z.string(), z.string()).optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
  inputDeleted: z.boolean().optional(),
  /** The job passed `jobDeadlineMs` and was cancelled by us. */
  deadline: z.boolean().optional(),
});

export type AttemptState = z.infer<typeof attemptSchema>;

const chunkSchema = z.object({
  format: z.literal(STATE_FORMAT),
  index: z.number().int().min(0),
  requestsHash: z.string(),
  rowsHash: z.string(),
  requests: z.number().int().min(0),
  rows: z.number().int().min(0),
  bytes: z.number().int().min(0),
  attempts: z.array(attemptSchema),
  /** No attempt will be added: every key has its final answer (or error) on disk. */
  settled: z.boolean().optional(),
});

export type ChunkState = z.infer<typeof chunkSchema>;

function newRunId(): string {
  return randomBytes(6).toString('hex');
}

function sameFingerprint(a: RunFingerprint, b: RunFingerprint): boolean {
  return JSON.stringify(fingerprintSchema.parse(a)) === JSON.stringify(fingerprintSchema.parse(b));
}

function describeDifference(a: RunFingerprint, b: RunFingerprint): string {
  return (Object.keys(b) as Array<keyof RunFingerprint>)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k} was ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}`)
    .join('; ');
}

export interface OpenOptions {
  fingerprint: RunFingerprint;
  /** What to do when the state was written by a run built differently: stop, or set it aside and start over. */
  onStateMismatch: 'error' | 'restart';
  /** Stops the wait for another run of this process to let go of the state. */
  signal?: AbortSignal;
}

export class RunState {
  private held: Lock | undefined;

  private constructor(
    readonly dir: string,
    private manifest: RunManifest,
    private readonly mismatch: OpenOptions['onStateMismatch'],
  ) {}

  /** Opens (or starts) the state of a run in `dir`, and locks it against a second run. */
  static async open(dir: string, options: OpenOptions): Promise<RunState> {
    // A run of this process that is closing (a consumer broke out, a pipeline failed) lets go soon.
    const closing = inProcessRelease(join(dir, 'lock'), IN_PROCESS_WAIT_MS, options.signal);
    if (closing) await closing;
    mkdirSync(join(dir, 'chunks'), { recursive: true });
    const path = join(dir, 'manifest.json');
    let raw: unknown;
    try {
      raw = readJsonFile<unknown>(path);
    } catch (err) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The run manifest ${path} is not valid JSON (a damaged disk or an edit?); it cannot be trusted. Move the state directory away to start afresh.`,
        { cause: err },
      );
    }
    let manifest: RunManifest | undefined;
    if (raw !== undefined) {
      const parsed = manifestSchema.safeParse(raw);
      if (!parsed.success) {
        throw new GbsError(
          'GBS_STATE_CORRUPT',
          `The run manifest ${path} is not one this version wrote; it cannot be trusted. Move the state directory away to start afresh.`,
        );
      }
      manifest = parsed.data;
    }
    const state = new RunState(
      dir,
      manifest ?? RunState.newManifest(options.fingerprint),
      options.onStateMismatch,
    );
    state.lock();
    try {
      if (!manifest) state.saveManifest();
      else if (!sameFingerprint(manifest.fingerprint, options.fingerprint)) {
        const what = describeDifference(manifest.fingerprint, options.fingerprint);
        if (options.onStateMismatch === 'error') {
          throw new GbsError(
            'GBS_STATE_MISMATCH',
            `The state in ${dir} was written by a run with other settings (${what}). Use another stateDir, or onStateMismatch: 'restart' to set this state aside and start over.`,
          );
        }
        state.supersede(0);
        state.manifest = RunState.newManifest(options.fingerprint);
        state.saveManifest();
      }
    } catch (err) {
      state.release();
      throw err;
    }
    return state;
  }

  private static newManifest(fingerprint: RunFingerprint): RunManifest {
    return { format: STATE_FORMAT, runId: newRunId(), createdAt: new Date().toISOString(), fingerprint };
  }

  private saveManifest(): void {
    writeFileAtomic(join(this.dir, 'manifest.json'), `${JSON.stringify(this.manifest, null, 2)}\n`);
  }

  get runId(): string {
    return this.manifest.runId;
  }

  get onStateMismatch(): OpenOptions['onStateMismatch'] {
    return this.mismatch;
  }

  /** Takes `dir/lock`; a lock of a live process refuses, a dead one's is taken over. */
  private lock(): void {
    this.held = acquireLock(join(this.dir, 'lock'), {
      inUse: (holder) =>
        `The state in ${this.dir} is in use by ${holder}; two runs on one state would pay twice. Wait for it, or use another stateDir.`,
      contended: `Could not lock the state in ${this.dir}.`,
    });
  }

  /** Gives the lock back (at the end of the run, successful or not). */
  release(): void {
    this.held?.release();
    this.held = undefined;
  }

  /** Moves the chunks from `fromChunk` on into `superseded/<time>/`: kept for inspection, never reused. */
  supersede(fromChunk: number): string | undefined {
    const chunks = join(this.dir, 'chunks');
    const names = readdirSync(chunks).filter((n) => /^\d{6}$/.test(n) && Number(n) >= fromChunk);
    if (names.length === 0) return undefined;
    const target = join(this.dir, 'superseded', new Date().toISOString().replace(/[:.]/g, '-'));
    mkdirSync(target, { recursive: true });
    for (const name of names) renameSync(join(chunks, name), join(target, name));
    return target;
  }

  chunkDir(index: number): string {
    return join(this.dir, 'chunks', String(index).padStart(6, '0'));
  }

  loadChunk(index: number): ChunkState | undefined {
    const path = join(this.chunkDir(index), 'state.json');
    const redo = `Move ${this.chunkDir(index)} away to redo this chunk (a job it had already created would then be paid twice).`;
    let raw: unknown;
    try {
      raw = readJsonFile<unknown>(path);
    } catch (err) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The chunk state ${path} is not valid JSON; it cannot be trusted. ${redo}`,
        {
          cause: err,
          chunk: index,
        },
      );
    }
    if (raw === undefined) return undefined;
    const parsed = chunkSchema.safeParse(raw);
    if (!parsed.success || parsed.data.index !== index) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The chunk state ${path} is damaged; it cannot be trusted. ${redo}`,
        { chunk: index },
      );
    }
    return parsed.data;
  }

  /**
   * Saves a chunk's state (temp file, fsync, rename). `durable` also fsyncs the folder: for the
   * save before a create, whose loss after a power cut could mean a job paid twice. Every other
   * state, if lost, is found again (an upload or a job by its display name) or redone for free.
   */
  saveChunk(state: ChunkState, durable = false): void {
    const dir = this.chunkDir(state.index);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`, durable);
  }

  displayName(index: number, attempt: number, hash: string): string {
    return `gbs-${this.runId}-c${index}-a${attempt}-${hash.slice(0, 12)}`;
  }
}
