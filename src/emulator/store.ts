// The emulator's resources (files and batches) in memory, mirrored to a directory so a restarted
// emulator (given the same `dir`) sees the same jobs, as the real service would.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredJobFaults } from './faults.js';
import type { RpcStatus } from './rpc.js';

/** The job states the API defines (besides BATCH_STATE_UNSPECIFIED). */
export const BATCH_STATES = [
  'BATCH_STATE_PENDING',
  'BATCH_STATE_RUNNING',
  'BATCH_STATE_SUCCEEDED',
  'BATCH_STATE_FAILED',
  'BATCH_STATE_CANCELLED',
  'BATCH_STATE_EXPIRED',
] as const;

export type BatchState = (typeof BATCH_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<string> = new Set([
  'BATCH_STATE_SUCCEEDED',
  'BATCH_STATE_FAILED',
  'BATCH_STATE_CANCELLED',
  'BATCH_STATE_EXPIRED',
]);

export interface FileRecord {
  /** `files/{id}`. */
  name: string;
  displayName?: string;
  mimeType: string;
  sizeBytes: number;
  createTime: string;
  updateTime: string;
  expirationTime: string;
  sha256Hash: string;
  source: 'UPLOADED' | 'GENERATED';
  /** Data file, relative to the store's directory. */
  dataPath: string;
}

export interface InlineRequest {
  request: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export interface BatchRecord {
  /** The id part of `batches/{id}`. */
  id: string;
  kind: 'generate' | 'embed';
  model: string;
  displayName?: string;
  createTime: string;
  updateTime: string;
  endTime?: string;
  runningSince?: string;
  state: BatchState | string;
  /** `files/{id}` for a file source. */
  inputFile?: string;
  /** The spelling the client used for the file source (`fileName` or `file_name`). */
  inputFileKey?: string;
  inlineRequests?: InlineRequest[];
  requestCount: number;
  successful: number;
  failed: number;
  outputFile?: string;
  inlinedResponses?: Record<string, unknown>[];
  error?: RpcStatus;
  webhookConfig?: unknown;
  priority?: string;
  /** Prompt tokens (fake tokenizer) the job holds against the enqueued-token limit. */
  enqueuedTokens?: number;
  /** The job faults decided at create (see faults.ts); kept on disk, so they survive a restart. */
  faults?: StoredJobFaults;
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random lowercase alphanumeric id, as the real API hands out (files: 12, batches: 36). */
export function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHANUM[b % ALPHANUM.length];
  return out;
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export class Store {
  readonly dir: string;
  readonly files = new Map<string, FileRecord>();
  readonly batches = new Map<string, BatchRecord>();

  constructor(dir: string) {
    this.dir = dir;
    for (const sub of ['meta/files', 'meta/batches', 'data', 'uploads'])
      mkdirSync(join(dir, sub), { recursive: true });
    this.load();
  }

  private load(): void {
    for (const [sub, map] of [
      ['meta/files', this.files],
      ['meta/batches', this.batches],
    ] as const) {
      for (const entry of readdirSync(join(this.dir, sub))) {
        if (!entry.endsWith('.json')) continue;
        try {
          const record = JSON.parse(readFileSync(join(this.dir, sub, entry), 'utf8'));
          (map as Map<string, unknown>).set(entry.slice(0, -'.json'.length), record);
        } catch {
          // A half-written record from a crash: the tmp+rename write makes this rare; skip it.
        }
      }
    }
    // Upload sessions live in memory: after a restart their partial data is useless.
    rmSync(join(this.dir, 'uploads'), { recursive: true, force: true });
    mkdirSync(join(this.dir, 'uploads'), { recursive: true });
  }

  abs(relative: string): string {
    return join(this.dir, relative);
  }

  fileId(name: string): string {
    return name.replace(/^files\//, '');
  }

  saveFile(file: FileRecord): void {
    const id = this.fileId(file.name);
    writeJsonAtomic(join(this.dir, 'meta/files', `${id}.json`), file);
    this.files.set(id, file);
  }

  deleteFile(id: string): void {
    const file = this.files.get(id);
    this.files.delete(id);
    rmSync(join(this.dir, 'meta/files', `${id}.json`), { force: true });
    if (file) rmSync(this.abs(file.dataPath), { force: true });
  }

  saveBatch(batch: BatchRecord): void {
    this.batches.set(batch.id, batch);
    writeJsonAtomic(join(this.dir, 'meta/batches', `${batch.id}.json`), batch);
  }

  deleteBatch(id: string): void {
    this.batches.delete(id);
    rmSync(join(this.dir, 'meta/batches', `${id}.json`), { force: true });
  }

  /** Bytes held by all stored files (for the project storage cap). */
  storedBytes(): number {
    let total = 0;
    for (const f of this.files.values()) total += f.sizeBytes;
    return total;
  }
}
