// chunk: BatchItems → chunks spooled to disk, one job's worth each (maxRequestsPerJob /
// maxBytesPerJob). RAM holds one chunk's key index, never its requests. Duplicate keys stop the
// run before the chunk holding the second one is submitted. On a rerun the same input yields the
// same chunks, and a chunk already known to the state is checked against it, not spooled again.

import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GbsError } from '../errors.js';
import type { ProgressEvent } from '../progress.js';
import type { KeyFilter } from '../state/key-filter.js';
import type { ChunkState, RunState } from '../state/run-state.js';
import { STATE_FORMAT } from '../state/run-state.js';
import type { BatchItem, ErrorInfo } from '../types.js';
import { linesWithOffsets } from '../util/lines.js';
import { SpoolWriter } from '../util/spool.js';

/** A spooled chunk, ready to be submitted (or already done in an earlier run). */
export interface ChunkRef {
  index: number;
  dir: string;
  state: ChunkState;
  /** The state existed before this process: the chunk was checked, not spooled again. */
  resumed: boolean;
}

export interface ChunkContext {
  run: RunState;
  maxRequestsPerJob: number;
  maxBytesPerJob: number;
  keyFilter: KeyFilter;
  emit(event: ProgressEvent): void;
}

export const REQUESTS_FILE = 'requests.jsonl';
export const ROWS_FILE = 'rows.jsonl';
export const KEYS_FILE = 'keys.jsonl';

/** One line of rows.jsonl: everything the join needs to emit the row's result, in input order. */
export interface RowLine {
  key: string;
  line?: number;
  row: unknown;
  error?: ErrorInfo;
}

function rowsLine(item: BatchItem, error?: ErrorInfo): string {
  const record: RowLine = {
    key: item.key,
    row: item.row,
    ...(item.line !== undefined ? { line: item.line } : {}),
  };
  const err = error ?? item.error;
  if (err) record.error = err;
  try {
    return `${JSON.stringify(record)}\n`;
  } catch (e) {
    const bad: RowLine = {
      key: item.key,
      row: {},
      ...(item.line !== undefined ? { line: item.line } : {}),
      error: {
        stage: 'validate',
        code: 'GBS_ROW_INVALID',
        message: `the row cannot be stored as JSON: ${(e as Error).message}`,
        ...(item.line !== undefined ? { line: item.line } : {}),
      },
    };
    return `${JSON.stringify(bad)}\n`;
  }
}

function lines(first: number | undefined, second: number | undefined): string {
  return first !== undefined && second !== undefined ? ` (input lines ${first} and ${second})` : '';
}

class OpenChunk {
  readonly dir: string;
  readonly stored: ChunkState | undefined;
  // Everything is spooled to `.tmp` files first: the close decides what becomes of them (a
  // new chunk keeps them; a chunk the state already knows only checks them against it).
  private readonly requestsOut: SpoolWriter;
  private readonly keysOut: SpoolWriter;
  private readonly rowsOut: SpoolWriter;
  private readonly requestsHash: Hash = createHash('sha256');
  private readonly rowsHash: Hash = createHash('sha256');
  /** This chunk's keys → input line: exact duplicate detection within the chunk. */
  private readonly keys = new Map<string, number | undefined>();
  private readonly suspects: string[] = [];
  requests = 0;
  rows = 0;
  bytes = 0;

  constructor(
    readonly index: number,
    private readonly ctx: ChunkContext,
  ) {
    this.dir = ctx.run.chunkDir(index);
    mkdirSync(this.dir, { recursive: true });
    this.stored = ctx.run.loadChunk(index);
    this.requestsOut = this.writer(REQUESTS_FILE);
    this.keysOut = this.writer(KEYS_FILE);
    this.rowsOut = this.writer(ROWS_FILE);
  }

  private writer(name: string): SpoolWriter {
    return new SpoolWriter(join(this.dir, `${name}.tmp`));
  }

  private checkKey(key: string, line: number | undefined): void {
    if (typeof key !== 'string' || key === '') {
      throw new GbsError(
        'GBS_EMPTY_KEY',
        `A batch item has an empty or non-string key (${JSON.stringify(key)}); keys must be non-empty strings.`,
        {
          chunk: this.index,
          ...(line !== undefined ? { line } : {}),
        },
      );
    }
    if (this.keys.has(key)) {
      const first = this.keys.get(key);
      throw new GbsError(
        'GBS_DUPLICATE_KEY',
        `Duplicate key ${JSON.stringify(key)}${lines(first, line)}: keys must be unique, or answers could be joined to the wrong rows. No job was created for chunk ${this.index}.`,
        { chunk: this.index, key, ...(line !== undefined ? { line } : {}) },
      );
    }
    this.keys.set(key, line);
    if (this.ctx.keyFilter.add(key)) this.suspects.push(key);
  }

  /** Adds an item (its request line already made, when it has one); resolves when disk caught up. */
  async add(
    item: BatchItem,
    requestLine: string | undefined,
    requestBytes: number,
    error?: ErrorInfo,
  ): Promise<void> {
    this.checkKey(item.key, item.line);
    const waits: Array<Promise<void> | undefined> = [];
    if (requestLine !== undefined) {
      this.requestsHash.update(requestLine);
      waits.push(this.requestsOut.write(requestLine));
      this.requests++;
      this.bytes += requestBytes;
    }
    const rowText = rowsLine(item, error);
    this.rowsHash.update(rowText);
    waits.push(this.rowsOut.write(rowText));
    waits.push(this.keysOut.write(`${JSON.stringify([item.key, item.line ?? null])}\n`));
    this.rows++;
    for (const w of waits) if (w) await w;
  }

  /** Confirms suspects from the key filter against the keys of earlier chunks, on disk. */
  private async confirmSuspects(): Promise<void> {
    if (this.suspects.length === 0) return;
    const wanted = new Set(this.suspects);
    for (let i = 0; i < this.index; i++) {
      const path = join(this.ctx.run.chunkDir(i), KEYS_FILE);
      if (!existsSync(path)) continue;
      for await (const { text } of linesWithOffsets(path)) {
        const [key, line] = JSON.parse(text) as [string, number | null];
        if (wanted.has(key)) {
          const here = this.keys.get(key);
          throw new GbsError(
            'GBS_DUPLICATE_KEY',
            `Duplicate key ${JSON.stringify(key)}${lines(line ?? undefined, here)}: keys must be unique, or answers could be joined to the wrong rows. No job was created for chunk ${this.index}.`,
            { chunk: this.index, key, ...(here !== undefined ? { line: here } : {}) },
          );
        }
      }
    }
  }

  /** Keeps a spooled `.tmp` file as the chunk's file, or drops it when `keep` is false. */
  private settleFile(name: string, keep: boolean): void {
    const tmp = join(this.dir, `${name}.tmp`);
    if (keep) renameSync(tmp, join(this.dir, name));
    else rmSync(tmp, { force: true });
  }

  private fresh(requestsHash: string, rowsHash: string): ChunkState {
    return {
      format: STATE_FORMAT,
      index: this.index,
      requestsHash,
      rowsHash,
      requests: this.requests,
      rows: this.rows,
      bytes: this.bytes,
      attempts:
        this.requests > 0
          ? [
              {
                n: 1,
                displayName: this.ctx.run.displayName(this.index, 1, requestsHash),
                requestsFile: REQUESTS_FILE,
                requests: this.requests,
                bytes: this.bytes,
                phase: 'spooled',
              },
            ]
          : [],
    };
  }

  async close(): Promise<ChunkRef> {
    await Promise.all([this.requestsOut.close(), this.keysOut.close(), this.rowsOut.close()]);
    await this.confirmSuspects();
    const requestsHash = this.requestsHash.digest('hex');
    const rowsHash = this.rowsHash.digest('hex');
    let state: ChunkState;
    let resumed = false;
    const stored = this.stored;
    if (stored && (stored.requestsHash !== requestsHash || stored.requests !== this.requests)) {
      if (this.ctx.run.onStateMismatch === 'error') {
        for (const name of [REQUESTS_FILE, KEYS_FILE, ROWS_FILE]) this.settleFile(name, false);
        throw new GbsError(
          'GBS_STATE_MISMATCH',
          `Chunk ${this.index} in ${this.ctx.run.dir} was built from other requests than this run makes: the input or the request building changed since the state was written. Use another stateDir, or onStateMismatch: 'restart' to set the changed chunks aside and redo them.`,
          { chunk: this.index },
        );
      }
      // Restart from here: this chunk and all later ones are set aside; earlier ones still match.
      const live = stored.attempts.filter((a) => a.job && a.phase === 'created').map((a) => a.job);
      const aside = this.supersedeKeeping();
      this.ctx.emit({
        type: 'warning',
        chunk: this.index,
        code: 'STATE_SUPERSEDED',
        message: `the input changed from chunk ${this.index} on: its old state is set aside in ${aside}${live.length ? `; jobs still running for it: ${live.join(', ')}` : ''}`,
      });
      state = this.fresh(requestsHash, rowsHash);
      this.ctx.run.saveChunk(state);
    } else if (stored) {
      resumed = true;
      state = stored;
      // Files that went missing come back from the spool; the rest are kept as they are.
      this.settleFile(REQUESTS_FILE, !existsSync(join(this.dir, REQUESTS_FILE)) && !stored.settled);
      this.settleFile(KEYS_FILE, !existsSync(join(this.dir, KEYS_FILE)));
      const rowsChanged = stored.rowsHash !== rowsHash || stored.rows !== this.rows;
      // Same requests, other row data (a column the prompt does not use changed): keep the
      // answers, refresh the rows they are joined to.
      this.settleFile(ROWS_FILE, rowsChanged || !existsSync(join(this.dir, ROWS_FILE)));
      if (rowsChanged) {
        state = { ...stored, rowsHash, rows: this.rows };
        this.ctx.run.saveChunk(state);
      }
    } else {
      for (const name of [REQUESTS_FILE, KEYS_FILE, ROWS_FILE]) this.settleFile(name, true);
      state = this.fresh(requestsHash, rowsHash);
      this.ctx.run.saveChunk(state);
    }
    this.ctx.emit({
      type: 'chunk-spooled',
      chunk: this.index,
      requests: this.requests,
      rows: this.rows,
      bytes: this.bytes,
      resumed,
    });
    return { index: this.index, dir: this.dir, state, resumed };
  }

  /** Sets this chunk and later ones aside, keeping this run's fresh spool as the chunk's files. */
  private supersedeKeeping(): string {
    const aside = this.ctx.run.supersede(this.index) as string;
    const moved = join(aside, String(this.index).padStart(6, '0'));
    mkdirSync(this.dir, { recursive: true });
    for (const name of [REQUESTS_FILE, KEYS_FILE, ROWS_FILE])
      renameSync(join(moved, `${name}.tmp`), join(this.dir, name));
    return aside;
  }

  discard(): void {
    for (const out of [this.requestsOut, this.keysOut, this.rowsOut]) out.discard();
  }
}

/**
 * Spools items into chunks and yields each chunk when it is full (or the input ends). Pulls the
 * next item only when asked for the next chunk: a consumer that stops asking stops the source.
 */
export async function* chunkItems(
  items: AsyncIterable<BatchItem>,
  ctx: ChunkContext,
): AsyncGenerator<ChunkRef> {
  let index = 0;
  let open: OpenChunk | undefined;
  try {
    for await (const item of items) {
      if (item === null || typeof item !== 'object') {
        throw new GbsError(
          'GBS_INVALID_OPTION',
          `Expected batch items ({ key, request, row }), got ${item === null ? 'null' : typeof item}`,
        );
      }
      let requestLine: string | undefined;
      let requestBytes = 0;
      let error: ErrorInfo | undefined;
      if (!item.error) {
        if (item.request === undefined) {
          error = {
            stage: 'build',
            code: 'GBS_BUILD_FAILED',
            message: 'the batch item has neither a request nor an error',
          };
        } else {
          requestLine = `${JSON.stringify({ key: item.key, request: item.request })}\n`;
          requestBytes = Buffer.byteLength(requestLine);
          if (requestBytes > ctx.maxBytesPerJob) {
            error = {
              stage: 'chunk',
              code: 'GBS_REQUEST_TOO_LARGE',
              message: `the request takes ${requestBytes} bytes, more than maxBytesPerJob (${ctx.maxBytesPerJob})`,
            };
            requestLine = undefined;
            requestBytes = 0;
          }
        }
        if (error && item.line !== undefined) error.line = item.line;
      }
      if (
        open &&
        requestLine !== undefined &&
        (open.requests + 1 > ctx.maxRequestsPerJob || open.bytes + requestBytes > ctx.maxBytesPerJob)
      ) {
        const full = open;
        open = undefined;
        yield await full.close();
      }
      open ??= new OpenChunk(index++, ctx);
      await open.add(item, requestLine, requestBytes, error);
    }
    if (open) {
      const last = open;
      open = undefined;
      yield await last.close();
    }
  } finally {
    open?.discard();
  }
}
