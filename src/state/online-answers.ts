// geminiOnline's answers in `stateDir/online/`: one `answers-N.jsonl` per run, each an ordered
// subsequence of the input, read back alongside the input so a rerun replays what was answered.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestRequest } from '../types.js';
import { digestJson } from '../util/hash.js';
import { MAX_RESULT_LINE_BYTES, type RawLine, rawLines } from '../util/lines.js';
import { fsyncDir } from './files.js';
import { acquireLock, IN_PROCESS_WAIT_MS, inProcessRelease, type Lock } from './lock.js';

type Json = Record<string, unknown>;

/** The folder of a state directory that holds the online answers. */
export function onlineAnswersDir(stateDir: string): string {
  return join(stateDir, 'online');
}

/** An answers file's name (`answers-000001.jsonl`); the number is the run that wrote it. */
export const ANSWERS_FILE = /^answers-(\d{6})\.jsonl$/;

/** One answered row as kept on disk: key, request digest, and the API's answer or error. */
export interface StoredAnswer {
  k: string;
  h: string;
  response?: Json;
  error?: { code?: number; message?: string };
}

/** The `h` of a stored answer: a short digest of what was sent, so a changed request is sent again. */
export function requestDigest(model: string, request: RestRequest): string {
  return digestJson([model, request]).slice(0, 16);
}

const FLUSH_ROWS = 64;
const FLUSH_MS = 1000;

/** An ordered stream of one answers file: its next line and one 256 KiB read buffer are held. */
class SegmentReader {
  private head: StoredAnswer | undefined;
  private ended = false;
  private constructor(private readonly lines: AsyncGenerator<RawLine>) {}

  static open(path: string): SegmentReader {
    return new SegmentReader(rawLines(path, MAX_RESULT_LINE_BYTES));
  }

  async peek(): Promise<StoredAnswer | undefined> {
    while (!this.head && !this.ended) {
      const next = await this.lines.next();
      if (next.done) {
        this.ended = true;
        continue;
      }
      const line = next.value;
      try {
        // Parsed at once: the line's bytes are in a buffer the next read reuses.
        if (line.oversize) throw new Error('oversize');
        this.head = JSON.parse(line.buf.toString('utf8', line.start, line.end)) as StoredAnswer;
      } catch {
        // A line cut short by a crash (or too long to read) is the file's end: the rest is asked again.
        this.ended = true;
      }
    }
    return this.head;
  }

  advance(): void {
    this.head = undefined;
  }

  close(): void {
    this.ended = true;
    this.lines.return(undefined).catch(() => undefined);
  }
}

/**
 * The answers of earlier runs, read alongside the input, and this run's answers file. Each run
 * writes every answered row (replayed or new) in input order to a new `answers-N.jsonl`, so each
 * file is an ordered subsequence of the input and is matched against it like a merge: memory holds
 * one line and one read buffer per file, never a set of keys. Every row must be passed to `lookup`
 * or `skip`, in input order, or a file's next line stays on a key the input has left behind. An
 * older file read to its end is superseded and removed.
 */
export class AnswerStore {
  private buffer = '';
  private rows = 0;
  private written = 0;
  private lastFlush = Date.now();
  private closed = false;
  /** Flushes what a stalled source left unflushed once a second has passed (see `append`). */
  private timer: NodeJS.Timeout | undefined;
  /** The flushes, one after another; it never rejects: an error is kept in `failure`. */
  private queue: Promise<void> = Promise.resolve();
  /** The first flush error: every later append, flush and close fails with it. */
  private failure: unknown;

  private constructor(
    private readonly dir: string,
    private readonly older: Array<{ path: string; reader: SegmentReader }>,
    private readonly path: string,
    private readonly file: FileHandle,
    private readonly lock: Lock,
  ) {}

  static async open(stateDir: string, signal?: AbortSignal): Promise<AnswerStore> {
    const dir = onlineAnswersDir(stateDir);
    // A run of this process that is closing (a consumer broke out, a pipeline failed) lets go soon.
    const closing = inProcessRelease(join(dir, 'lock'), IN_PROCESS_WAIT_MS, signal);
    if (closing) await closing;
    mkdirSync(dir, { recursive: true });
    const lock = acquireLock(join(dir, 'lock'), {
      inUse: (holder) =>
        `The online answers in ${dir} are in use by ${holder}. Wait for it, or use another stateDir.`,
      contended: `Could not lock ${dir}.`,
    });
    try {
      const numbers = readdirSync(dir)
        .map((n) => ANSWERS_FILE.exec(n)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => b - a);
      const name = (n: number) => join(dir, `answers-${String(n).padStart(6, '0')}.jsonl`);
      const path = name((numbers[0] ?? 0) + 1);
      const file = await open(path, 'wx');
      fsyncDir(dir);
      const older = numbers.map((n) => ({ path: name(n), reader: SegmentReader.open(name(n)) }));
      return new AnswerStore(dir, older, path, file, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Passes over a row that sends no request this time (an error item): its old answers are dropped. */
  async skip(key: string): Promise<void> {
    await this.lookup(key, '');
  }

  /** The answer an earlier run got for this row (same key, same request), if any; call in input order. */
  async lookup(key: string, hash: string): Promise<StoredAnswer | undefined> {
    let found: StoredAnswer | undefined;
    // Newest first: a later run's answer for a key wins. Every file whose next line is this key moves on.
    for (const { reader } of this.older) {
      const head = await reader.peek();
      if (head?.k !== key) continue;
      reader.advance();
      if (!found && head.h === hash) found = head;
    }
    return found;
  }

  /**
   * Keeps an answer: fsynced within a second (or at once when 64 are waiting). The time is checked
   * here and, for answers a stalled source leaves waiting (no next append comes), by a timer.
   */
  async append(answer: StoredAnswer): Promise<void> {
    if (this.failure) throw this.failure;
    this.buffer += `${JSON.stringify(answer)}\n`;
    this.rows++;
    const age = Date.now() - this.lastFlush;
    if (this.rows - this.written >= FLUSH_ROWS || age >= FLUSH_MS) await this.flush();
    else if (!this.timer && !this.closed) {
      // Unref'd: the timer alone does not keep the process alive. Due a second after the last flush.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        // Its error is kept (by `flush`) and thrown by the next append or close.
        this.flush().catch(() => undefined);
      }, FLUSH_MS - age).unref();
    }
  }

  /** Writes and fsyncs the waiting answers (after any flush still running). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlush = Date.now();
    const run = this.queue.then(() => this.writeBuffer());
    this.queue = run.catch((err: unknown) => {
      this.failure ??= err;
    });
    return run;
  }

  private async writeBuffer(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.buffer) return;
    const text = this.buffer;
    const rows = this.rows;
    this.buffer = '';
    await this.file.write(text);
    await this.file.sync();
    this.written = rows;
  }

  /**
   * Flushes and closes. An older file read to its end is superseded by this run's (each of its
   * answers was written again here, or was for a request that changed) and is removed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    let flushed = false;
    try {
      await this.flush();
      flushed = true;
    } finally {
      try {
        await this.file.close();
        const remove: string[] = [];
        for (const { path, reader } of this.older) {
          const ended = flushed && (await reader.peek().catch(() => null)) === undefined;
          if (ended) remove.push(path);
          reader.close();
        }
        if (this.rows === 0) remove.push(this.path);
        for (const path of remove) rmSync(path, { force: true });
        if (remove.length > 0) fsyncDir(this.dir);
      } finally {
        // Whatever failed above, the next run must not find the state locked by a finished one.
        this.lock.release();
      }
    }
  }
}
