// What the benchmark's child processes share: the job (model, prompt, request shape), how a child
// reports its figures to the orchestrator, and plain buffered line I/O for the floor.
//
// Children import no library code from here (only types), so the floor stays free of it.

import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** The model the job names (the emulator answers any). */
export const MODEL = 'gemini-2.5-flash';

/** The CSV columns the generator writes, in order. */
export const COLUMNS = ['id', 'product_id', 'user_id', 'rating', 'date', 'country', 'verified', 'review'];

/** The prompt of one row: the same for the floor and the pipeline. */
export function prompt(row: Record<string, string>): string {
  return `Classify the sentiment of this review as positive, negative or neutral: ${row.review}`;
}

/**
 * The REST request of one prompt, exactly as `toRequests` turns a prompt string into one
 * (`toRestRequest`), so both sides write byte-identical request lines.
 */
export function restRequest(text: string): Record<string, unknown> {
  return { contents: [{ role: 'user', parts: [{ text }] }] };
}

/** What every measured child prints as the last line of its stdout, after REPORT_PREFIX. */
export interface ChildReport {
  kind: string;
  rows: number;
  /** Wall time of the measured work, from just after the imports to the end. */
  wallMs: number;
  /** User + system CPU of the whole process (startup included), in ms. */
  cpuUserMs: number;
  cpuSysMs: number;
  /** CPU of the measured work only (process.cpuUsage delta), in ms. */
  workCpuMs: number;
  /** Peak resident set size of the process (getrusage ru_maxrss), in KiB. */
  maxRssKb: number;
  /** process.memoryUsage() at the end, in bytes. */
  memory: NodeJS.MemoryUsage;
  /** Anything else the child wants to say (summary, byte counts). */
  extra?: Record<string, unknown>;
}

export const REPORT_PREFIX = '@@bench-report ';

/** Starts the clock of a measured child; `done()` prints the report and returns it. */
export function startMeasure(kind: string): {
  done(rows: number, extra?: Record<string, unknown>): ChildReport;
} {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  return {
    done(rows, extra) {
      const work = process.cpuUsage(cpu0);
      const usage = process.resourceUsage();
      const report: ChildReport = {
        kind,
        rows,
        wallMs: performance.now() - t0,
        cpuUserMs: usage.userCPUTime / 1000,
        cpuSysMs: usage.systemCPUTime / 1000,
        workCpuMs: (work.user + work.system) / 1000,
        maxRssKb: usage.maxRSS,
        memory: process.memoryUsage(),
        ...(extra ? { extra } : {}),
      };
      process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(report)}\n`);
      return report;
    },
  };
}

/** `--name value` pairs of a child's argv. */
export function childArgs(argv = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        out.set(a.slice(2), next);
        i++;
      } else out.set(a.slice(2), 'true');
    }
  }
  return out;
}

export function required(args: Map<string, string>, name: string): string {
  const v = args.get(name);
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

const FLUSH = 64 * 1024;

/** Text to a file in large writes, waiting for the disk when it is behind (as the library's sinks do). */
export class TextWriter {
  private readonly stream: WriteStream;
  private pending = '';
  bytes = 0;

  constructor(path: string) {
    this.stream = createWriteStream(path);
  }

  /** Appends text; a promise only when the caller must wait. */
  write(text: string): Promise<void> | undefined {
    this.pending += text;
    if (this.pending.length < FLUSH) return undefined;
    return this.flush();
  }

  private flush(): Promise<void> | undefined {
    const text = this.pending;
    this.pending = '';
    this.bytes += Buffer.byteLength(text);
    if (this.stream.write(text)) return undefined;
    return once(this.stream, 'drain').then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.pending) await this.flush();
    this.stream.end();
    await once(this.stream, 'close');
  }
}

/**
 * Lines of a text file, read in 64 KiB pieces: `next()` is synchronous while the current piece
 * lasts and answers `undefined` when `fill()` must be awaited (or the file is done: `ended`).
 */
export class LineReader {
  private readonly iterator: AsyncIterator<string>;
  private lines: string[] = [];
  private at = 0;
  private carry = '';
  ended = false;

  constructor(path: string) {
    const stream: Readable = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
    this.iterator = stream[Symbol.asyncIterator]();
  }

  next(): string | undefined {
    while (this.at < this.lines.length) {
      const line = this.lines[this.at++] as string;
      if (line !== '') return line;
    }
    return undefined;
  }

  /** Reads the next piece; false when the file is done. */
  async fill(): Promise<boolean> {
    if (this.ended) return false;
    const { done, value } = await this.iterator.next();
    if (done) {
      this.ended = true;
      this.lines = this.carry ? [this.carry] : [];
      this.carry = '';
      this.at = 0;
      return this.lines.length > 0;
    }
    const parts = (this.carry + value).split('\n');
    this.carry = parts.pop() as string;
    this.lines = parts;
    this.at = 0;
    return true;
  }
}
