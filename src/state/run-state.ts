// The state directory of a run: `manifest.json` (run id, model) and one `chunks/NNNNNN/` folder
// per chunk with its spool files, results and a `state.json` rewritten atomically before and
// after every remote side effect. It is what a rerun resumes from.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GbsError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './files.js';

const FORMAT = 1;

export interface RunManifest {
  format: number;
  runId: string;
  model: string;
  createdAt: string;
}

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
  /** The job ended (`jobState`, and `output` or `inline` when it has results). */
  | 'terminal'
  /** Its results are on disk (`resultsFile`). */
  | 'downloaded';

export interface AttemptState {
  /** 1-based attempt number within the chunk. */
  n: number;
  displayName: string;
  /** The requests file of this attempt, relative to the chunk folder. */
  requestsFile: string;
  requests: number;
  bytes: number;
  phase: AttemptPhase;
  file?: string;
  job?: string;
  jobState?: string;
  createdAt?: string;
  endedAt?: string;
  /** The job's `files/batch-…` output, when it has one. */
  output?: string;
  resultsFile?: string;
  stats?: Record<string, string>;
  error?: { code?: number; message?: string };
  /** Whether the uploaded requests file was deleted from the Files API. */
  inputDeleted?: boolean;
}

export interface ChunkState {
  format: number;
  index: number;
  /** sha256 of the requests lines, and of the rows lines: a rerun must produce the same. */
  requestsHash: string;
  rowsHash: string;
  requests: number;
  rows: number;
  bytes: number;
  attempts: AttemptState[];
}

function newRunId(): string {
  return randomBytes(6).toString('hex');
}

export class RunState {
  private constructor(
    readonly dir: string,
    readonly manifest: RunManifest,
  ) {}

  /** Opens (or starts) the state of a run in `dir`. */
  static open(dir: string, model: string): RunState {
    mkdirSync(join(dir, 'chunks'), { recursive: true });
    const path = join(dir, 'manifest.json');
    let manifest: RunManifest | undefined;
    try {
      manifest = readJsonFile<RunManifest>(path);
    } catch (err) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The run manifest ${path} is not valid JSON; it cannot be trusted.`,
        { cause: err },
      );
    }
    if (manifest && (manifest.format !== FORMAT || typeof manifest.runId !== 'string')) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The run manifest ${path} is not one this version understands.`,
      );
    }
    if (!manifest) {
      manifest = { format: FORMAT, runId: newRunId(), model, createdAt: new Date().toISOString() };
      writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`);
    }
    return new RunState(dir, manifest);
  }

  get runId(): string {
    return this.manifest.runId;
  }

  chunkDir(index: number): string {
    return join(this.dir, 'chunks', String(index).padStart(6, '0'));
  }

  loadChunk(index: number): ChunkState | undefined {
    const path = join(this.chunkDir(index), 'state.json');
    let state: ChunkState | undefined;
    try {
      state = readJsonFile<ChunkState>(path);
    } catch (err) {
      throw new GbsError(
        'GBS_STATE_CORRUPT',
        `The chunk state ${path} is not valid JSON; it cannot be trusted.`,
        {
          cause: err,
          chunk: index,
        },
      );
    }
    if (state && (state.format !== FORMAT || state.index !== index || !Array.isArray(state.attempts))) {
      throw new GbsError('GBS_STATE_CORRUPT', `The chunk state ${path} is damaged.`, { chunk: index });
    }
    return state;
  }

  saveChunk(state: ChunkState): void {
    const dir = this.chunkDir(state.index);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  }

  displayName(index: number, attempt: number, hash: string): string {
    return `gbs-${this.runId}-c${index}-a${attempt}-${hash.slice(0, 12)}`;
  }
}

export const STATE_FORMAT = FORMAT;
