// One chunk being spooled: requests.jsonl, rows.jsonl, and its keys in RAM (never its requests), so a
// duplicate key stops the run before it is submitted. A chunk the state already knows is checked against it.

import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GbsError } from '../errors.js';
import type { ChunkState } from '../state/run-state.js';
import { STATE_FORMAT } from '../state/run-state.js';
import type { BatchItem, ErrorInfo } from '../types.js';
import { SpoolWriter } from '../util/spool.js';
import type { ChunkContext, ChunkRef } from './chunk.js';

export const REQUESTS_FILE = 'requests.jsonl';
export const ROWS_FILE = 'rows.jsonl';

/** One line of rows.jsonl: everything the join needs to emit the row's result, in input order. */
export interface RowLine {
  key: string;
  line?: number;
  row: unknown;
  error?: ErrorInfo;
}

/** The row's line in rows.jsonl; `unstorable` when the row cannot be stored as JSON (then an error line). */
function rowsLine(item: BatchItem, error: ErrorInfo | undefined): { text: string; unstorable?: true } {
  const line = item.line;
  const err = error ?? item.error;
  try {
    // Built as text: no wrapper object per row.
    const tail = `${line === undefined ? '' : `,"line":${line}`}${err ? `,"error":${JSON.stringify(err)}` : ''}}\n`;
    return { text: `{"key":${JSON.stringify(item.key)},"row":${JSON.stringify(item.row) ?? 'null'}${tail}` };
  } catch (e) {
    const bad: RowLine = {
      key: item.key,
      row: {},
      ...(line !== undefined ? { line } : {}),
      error: {
        stage: 'validate',
        code: 'GBS_ROW_INVALID',
        message: `the row cannot be stored as JSON: ${(e as Error).message}`,
        ...(line !== undefined ? { line } : {}),
      },
    };
    return { text: `${JSON.stringify(bad)}\n`, unstorable: true };
  }
}

function lines(first: number | undefined, second: number | undefined): string {
  return first !== undefined && second !== undefined ? ` (input lines ${first} and ${second})` : '';
}

function duplicate(
  key: string,
  chunk: number,
  first: number | undefined,
  second: number | undefined,
): GbsError {
  return new GbsError(
    'GBS_DUPLICATE_KEY',
    `Duplicate key ${JSON.stringify(key)}${lines(first, second)}: keys must be unique, or answers could be joined to the wrong rows. No job was created for chunk ${chunk}.`,
    { chunk, key, ...(second !== undefined ? { line: second } : {}) },
  );
}

const SPOOLED = [REQUESTS_FILE, ROWS_FILE] as const;

export class OpenChunk {
  readonly dir: string;
  readonly stored: ChunkState | undefined;
  // Both files are spooled to `.tmp` first: the close decides what becomes of them (a new chunk
  // keeps them; a chunk the state already knows is only checked against them).
  private readonly requestsOut: SpoolWriter;
  private readonly rowsOut: SpoolWriter;
  /** This chunk's keys → row index (input order): exact duplicate detection within the chunk. */
  private readonly keys = new Map<string, number>();
  /** Rows whose request is not in requests.jsonl (they failed before): the answer index skips them. */
  private readonly unsent: number[] = [];
  /** Input line of each row, by row index. */
  private readonly lines: Array<number | undefined> = [];
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
    this.requestsOut = new SpoolWriter(join(this.dir, `${REQUESTS_FILE}.tmp`));
    this.rowsOut = new SpoolWriter(join(this.dir, `${ROWS_FILE}.tmp`));
  }

  private checkKey(key: string, line: number | undefined): void {
    if (typeof key !== 'string' || key === '') {
      throw new GbsError(
        'GBS_EMPTY_KEY',
        `A batch item has an empty or non-string key (${JSON.stringify(key)}); keys must be non-empty strings.`,
        { chunk: this.index, ...(line !== undefined ? { line } : {}) },
      );
    }
    const earlier = this.keys.get(key);
    if (earlier !== undefined) throw duplicate(key, this.index, this.lines[earlier], line);
    this.keys.set(key, this.rows);
    this.lines.push(line);
    if (this.ctx.keyFilter.add(key)) this.suspects.push(key);
  }

  /** Adds an item (its request line already made, when it has one); a promise when disk is behind. */
  add(
    item: BatchItem,
    requestLine: string | undefined,
    requestBytes: number,
    error: ErrorInfo | undefined,
  ): Promise<void> | undefined {
    this.checkKey(item.key, item.line);
    const row = rowsLine(item, error);
    let wait: Promise<void> | undefined;
    // A row that cannot be stored comes out as an error record: its request is not sent (nor billed).
    if (requestLine !== undefined && !row.unstorable) {
      wait = this.requestsOut.write(requestLine);
      this.requests++;
      this.bytes += requestBytes;
    } else {
      this.unsent.push(this.rows);
    }
    const rowsWait = this.rowsOut.write(row.text);
    this.rows++;
    return wait && rowsWait ? Promise.all([wait, rowsWait]).then(() => undefined) : (wait ?? rowsWait);
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
    await Promise.all([this.requestsOut.close(), this.rowsOut.close()]);
    // Suspects of the key filter are confirmed (or cleared) against the keys of earlier chunks.
    if (this.suspects.length > 0) {
      const earlier = await this.ctx.keyIndex.findEarlier(this.index, this.suspects);
      if (earlier)
        throw duplicate(
          earlier.key,
          this.index,
          earlier.line,
          this.lines[this.keys.get(earlier.key) as number],
        );
    }
    const requestsHash = this.requestsOut.digest();
    const rowsHash = this.rowsOut.digest();
    let state: ChunkState;
    let resumed = false;
    const stored = this.stored;
    if (stored && (stored.requestsHash !== requestsHash || stored.requests !== this.requests)) {
      if (this.ctx.run.onStateMismatch === 'error') {
        for (const name of SPOOLED) this.settleFile(name, false);
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
      // A requests file that went missing comes back from the spool; the rest are kept as they are.
      this.settleFile(REQUESTS_FILE, !existsSync(join(this.dir, REQUESTS_FILE)) && !stored.settled);
      const rowsChanged = stored.rowsHash !== rowsHash || stored.rows !== this.rows;
      // Same requests, other row data (a column the prompt does not use changed): keep the
      // answers, refresh the rows they are joined to.
      this.settleFile(ROWS_FILE, rowsChanged || !existsSync(join(this.dir, ROWS_FILE)));
      if (rowsChanged) {
        state = { ...stored, rowsHash, rows: this.rows };
        this.ctx.run.saveChunk(state);
      }
    } else {
      for (const name of SPOOLED) this.settleFile(name, true);
      state = this.fresh(requestsHash, rowsHash);
      this.ctx.run.saveChunk(state);
    }
    this.ctx.keyIndex.record(this.index, this.keys, this.lines);
    this.ctx.emit({
      type: 'chunk-spooled',
      chunk: this.index,
      requests: this.requests,
      rows: this.rows,
      bytes: this.bytes,
      resumed,
    });
    return { index: this.index, dir: this.dir, state, resumed, rowKeys: this.keys, unsent: this.unsent };
  }

  /** Sets this chunk and later ones aside, keeping this run's fresh spool as the chunk's files. */
  private supersedeKeeping(): string {
    const aside = this.ctx.run.supersede(this.index) as string;
    const moved = join(aside, basename(this.dir));
    mkdirSync(this.dir, { recursive: true });
    for (const name of SPOOLED) renameSync(join(moved, `${name}.tmp`), join(this.dir, name));
    return aside;
  }

  discard(): void {
    this.requestsOut.discard();
    this.rowsOut.discard();
  }
}
