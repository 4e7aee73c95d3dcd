// Progress people can watch: on a TTY a few lines redrawn in place (at most 10 times a second); off
// a TTY one plain line per event; with --json one JSON object per line on stdout. Human text goes
// to stderr, so stdout carries only machine-readable output.

import type { BatchResult, BatchStats, ProgressEvent } from '../index.js';
import { bytes, count, duration, shortState } from './format.js';

export type ProgressMode = 'tty' | 'plain' | 'json';

export function progressMode(json: boolean): ProgressMode {
  if (json) return 'json';
  return process.stderr.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

interface JobView {
  chunk: number;
  attempt: number;
  job: string;
  state: string;
  stats?: BatchStats;
  createdAt: number;
  /** What was last printed for it (plain mode), and when. */
  printed?: string;
  printedAt: number;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED']);
const MAX_JOB_LINES = 8;
/** Plain mode repeats an unchanged job's line this often, so a log shows it is alive. */
const HEARTBEAT_MS = 5 * 60_000;

export class ProgressView {
  private readonly started = Date.now();
  private rowsRead = 0;
  private written = 0;
  private errors = 0;
  private chunks = 0;
  private resumed = 0;
  private retries = 0;
  private readonly jobs = new Map<string, JobView>();
  private drawn = 0;
  private dirty = false;
  private lastDraw = 0;
  private lastRows = Date.now();
  private rowsAt = -1;
  private readonly err = process.stderr;
  private readonly out = process.stdout;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly mode: ProgressMode,
    /** Online runs have no chunk events: plain mode prints a rows line every few seconds instead. */
    private readonly rowLines = false,
  ) {
    if (mode === 'tty') {
      this.timer = setInterval(() => {
        if (this.dirty || Date.now() - this.lastDraw >= 1000) this.draw();
      }, 100);
      this.timer.unref();
    }
  }

  private elapsed(): number {
    return Date.now() - this.started;
  }

  /** One machine-readable event (json mode only). */
  json(event: Record<string, unknown>): void {
    if (this.mode === 'json') this.out.write(`${JSON.stringify({ ...event, elapsedMs: this.elapsed() })}\n`);
  }

  /** A line for people (json mode: a `note` event). */
  note(text: string): void {
    if (this.mode === 'json') this.json({ type: 'note', message: text });
    else if (this.mode === 'plain') this.err.write(`[${duration(this.elapsed()).padStart(7)}] ${text}\n`);
    else {
      this.clear();
      this.err.write(`${text}\n`);
      this.draw();
    }
  }

  /** Text printed as it is (not a progress line): the start banner, the summary. With --json only
   * what a person must see anyway (how to resume) is printed, still on stderr. */
  say(text: string, evenWithJson = false): void {
    if (this.mode === 'json' && !evenWithJson) return;
    this.clear();
    this.err.write(`${text}\n`);
    if (this.timer) this.draw();
  }

  rowRead(): void {
    this.rowsRead++;
    this.changed();
  }

  result(result: BatchResult): void {
    this.written++;
    if (!result.ok) this.errors++;
    this.changed();
  }

  private changed(): void {
    this.dirty = true;
    const now = Date.now();
    if (this.mode === 'json' && now - this.lastRows >= 1000) this.rowsEvent(now);
    if (this.mode === 'plain' && this.rowLines && now - this.lastRows >= 5000) this.rowsLine(now);
  }

  private rowsEvent(now: number): void {
    this.lastRows = now;
    this.json({ type: 'rows', read: this.rowsRead, written: this.written, errors: this.errors });
  }

  private rowsLine(now: number): void {
    this.lastRows = now;
    if (this.rowsAt === this.written) return;
    this.rowsAt = this.written;
    this.note(
      `rows: ${count(this.rowsRead)} read, ${count(this.written)} written, ${count(this.errors)} errors`,
    );
  }

  event(e: ProgressEvent): void {
    this.track(e);
    if (this.mode === 'json') this.json({ ...e });
    else if (this.mode === 'plain') {
      const line = this.plainLine(e);
      if (line) this.note(line);
    } else if (e.type === 'warning' || e.type === 'retry') this.note(this.plainLine(e) ?? '');
    else this.dirty = true;
  }

  private track(e: ProgressEvent): void {
    if (e.type === 'chunk-spooled') {
      this.chunks++;
      if (e.resumed) this.resumed++;
    } else if (e.type === 'retry') this.retries++;
    else if (e.type === 'job-created') {
      this.jobs.set(e.job, {
        chunk: e.chunk,
        attempt: e.attempt,
        job: e.job,
        state: 'CREATED',
        createdAt: Date.now(),
        printedAt: 0,
      });
    } else if (e.type === 'job-state') {
      const view = this.jobs.get(e.job) ?? {
        chunk: e.chunk,
        attempt: e.attempt,
        job: e.job,
        state: '',
        printedAt: 0,
        createdAt: 0,
      };
      view.createdAt = Date.now() - e.waitedMs;
      view.state = shortState(e.state);
      if (e.stats) view.stats = e.stats;
      this.jobs.set(e.job, view);
    }
  }

  private where(e: { chunk?: number; attempt?: number }): string {
    if (e.chunk === undefined) return '';
    return `chunk ${e.chunk}${e.attempt !== undefined && e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}: `;
  }

  private plainLine(e: ProgressEvent): string | undefined {
    switch (e.type) {
      case 'chunk-spooled':
        return e.resumed
          ? `chunk ${e.chunk}: already spooled (${count(e.requests)} requests), resuming`
          : `chunk ${e.chunk}: spooled ${count(e.requests)} requests (${bytes(e.bytes)})`;
      case 'uploaded':
        return `${this.where(e)}uploaded ${e.file} (${bytes(e.bytes)})`;
      case 'job-created':
        return `${this.where(e)}${e.adopted ? 'found job' : 'created job'} ${e.job}${e.adopted ? ' again (created before)' : ''}`;
      case 'job-state': {
        const view = this.jobs.get(e.job);
        const s = e.stats;
        const counts = s
          ? ` ${count(s.successfulRequestCount + s.failedRequestCount)}/${count(s.requestCount)} requests done, ${count(s.failedRequestCount)} failed`
          : '';
        const signature = `${e.state}${counts}`;
        const now = Date.now();
        if (view && view.printed === signature && now - view.printedAt < HEARTBEAT_MS) return undefined;
        if (view) {
          view.printed = signature;
          view.printedAt = now;
        }
        return `${this.where(e)}${e.job} ${shortState(e.state)}${counts} (waited ${duration(e.waitedMs)})`;
      }
      case 'downloaded':
        return `${this.where(e)}downloaded the results of ${e.job} (${bytes(e.bytes)})`;
      case 'chunk-emitted':
        return `chunk ${e.chunk}: wrote ${count(e.rows)} rows (${count(e.ok)} ok, ${count(e.failed)} failed)`;
      case 'retry':
        return `retrying ${e.operation}${e.chunk !== undefined ? ` (chunk ${e.chunk})` : ''} after attempt ${e.attempt}${e.delayMs > 0 ? `, waiting ${duration(e.delayMs)} as asked` : ''}: ${e.error}`;
      case 'warning':
        return `warning${e.chunk !== undefined ? ` (chunk ${e.chunk})` : ''}: ${e.code} ${e.message}`;
      case 'done':
        return undefined;
    }
  }

  /** The live block (tty mode). */
  private block(): string[] {
    const lines = [
      `elapsed ${duration(this.elapsed())} · rows read ${count(this.rowsRead)} · written ${count(this.written)} · errors ${count(this.errors)}${this.retries ? ` · retries ${count(this.retries)}` : ''}`,
    ];
    if (this.chunks > 0 || this.jobs.size > 0) {
      const byState = new Map<string, number>();
      let done = 0;
      let failed = 0;
      let total = 0;
      for (const j of this.jobs.values()) {
        byState.set(j.state, (byState.get(j.state) ?? 0) + 1);
        if (j.stats) {
          done += j.stats.successfulRequestCount + j.stats.failedRequestCount;
          failed += j.stats.failedRequestCount;
          total += j.stats.requestCount;
        }
      }
      const states = [...byState].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ') || 'none yet';
      const resumed = this.resumed ? ` (${this.resumed} resumed)` : '';
      const requests = total
        ? ` · requests ${count(done)}/${count(total)} done, ${count(failed)} failed`
        : '';
      lines.push(`chunks spooled ${count(this.chunks)}${resumed} · jobs: ${states}${requests}`);
    }
    const active = [...this.jobs.values()].filter((j) => !TERMINAL.has(j.state));
    for (const j of active.slice(0, MAX_JOB_LINES)) {
      const s = j.stats;
      const doneN = s ? s.successfulRequestCount + s.failedRequestCount : 0;
      const width = 20;
      const fill = s?.requestCount ? Math.round((doneN / s.requestCount) * width) : 0;
      const bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}]`;
      const counts = s ? ` ${count(doneN)}/${count(s.requestCount)}` : '';
      lines.push(
        `  chunk ${j.chunk}${j.attempt > 1 ? `/${j.attempt}` : ''} ${j.state.padEnd(9)} ${bar}${counts} waited ${duration(Date.now() - j.createdAt)}  ${j.job}`,
      );
    }
    if (active.length > MAX_JOB_LINES)
      lines.push(`  … and ${active.length - MAX_JOB_LINES} more jobs in flight`);
    const width = Math.max(20, (this.err.columns || Number(process.env.COLUMNS) || 100) - 1);
    return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
  }

  private clear(): void {
    if (this.drawn > 0) this.err.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.mode !== 'tty') return;
    const lines = this.block();
    this.clear();
    this.err.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
    this.dirty = false;
    this.lastDraw = Date.now();
  }

  /** Final state of the progress display; timers stop. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'tty') {
      this.draw();
      this.drawn = 0; // the last block stays on screen
    } else if (this.mode === 'json') this.rowsEvent(Date.now());
    else if (this.rowLines) this.rowsLine(Date.now());
  }
}
