// Where a job's results go: a results file streamed to disk (hashed as it is written, made the job's
// output only when kept), or the inline list of an inline job.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import type { ResultItem } from './job-faults.js';
import type { BatchRecord, Store } from './store.js';
import { newFileTimes } from './wire.js';

/** Where results go: a results file (streamed to disk) or the inline list. */
export interface Sink {
  write(item: ResultItem): Promise<void>;
  /** Stops writing; `keep` makes the results the job's output, otherwise they are thrown away. */
  close(keep: boolean): Promise<void>;
}

export class FileSink implements Sink {
  private readonly outName: string;
  private readonly tmp: string;
  private readonly out: WriteStream;
  private readonly sha = createHash('sha256');
  private error: Error | undefined;

  constructor(
    private readonly store: Store,
    private readonly batch: BatchRecord,
    private readonly fileTtlMs: number,
  ) {
    this.outName = `batch-${batch.id}`;
    this.tmp = store.abs(`data/${this.outName}.part`);
    this.out = createWriteStream(this.tmp);
    // A disk error fails the job (through write/close) instead of crashing the process.
    this.out.on('error', (err) => {
      this.error ??= err;
    });
  }

  async write(item: ResultItem): Promise<void> {
    if (this.error) throw this.error;
    // Real result lines put `key` after `response` / `error`.
    const record = item.key === undefined ? item.body : { ...item.body, key: item.key };
    let text = JSON.stringify(record);
    if (item.broken) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    if (item.broken !== 'joined') text += '\n';
    this.sha.update(text);
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(keep: boolean): Promise<void> {
    this.out.end();
    if (!this.out.closed) await once(this.out, 'close');
    if (!keep || this.error) {
      rmSync(this.tmp, { force: true });
      if (keep && this.error) throw this.error;
      return;
    }
    const outPath = `data/${this.outName}`;
    renameSync(this.tmp, this.store.abs(outPath));
    this.store.saveFile({
      name: `files/${this.outName}`,
      mimeType: 'application/json',
      sizeBytes: statSync(this.store.abs(outPath)).size,
      ...newFileTimes(this.fileTtlMs),
      sha256Hash: this.sha.digest('base64'),
      source: 'GENERATED',
      dataPath: outPath,
    });
    this.batch.outputFile = `files/${this.outName}`;
  }
}

/** Inline results (an inline job, or a file job with fault `inline`: the key goes in `metadata.key`). */
export class InlineSink implements Sink {
  private readonly items: Record<string, unknown>[] = [];

  constructor(private readonly batch: BatchRecord) {}

  async write(item: ResultItem): Promise<void> {
    const metadata = item.metadata ?? (item.key !== undefined ? { key: item.key } : undefined);
    const meta = metadata ? { metadata } : {};
    this.items.push(item.broken ? meta : { ...item.body, ...meta });
  }

  async close(keep: boolean): Promise<void> {
    this.batch.inlinedResponses = keep ? this.items : undefined;
  }
}
