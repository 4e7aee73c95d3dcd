// An append-only spool file: text encoded into a reused buffer (util/file-writer.ts), hashed as it
// goes to disk. Closing fsyncs, so a spooled chunk is durable.

import { createHash, type Hash } from 'node:crypto';
import { FileWriter } from './file-writer.js';

export class SpoolWriter {
  private readonly file: FileWriter;
  private readonly hash: Hash = createHash('sha256');

  constructor(readonly path: string) {
    this.file = new FileWriter(path, this.hash);
  }

  /** Bytes written so far (exact after `close`). */
  get bytes(): number {
    return this.file.bytes;
  }

  /** Appends text; returns a promise only when the caller must wait (disk is behind). */
  write(text: string): Promise<void> | undefined {
    return this.file.write(text);
  }

  /** Hex sha256 of everything written, after `close`. */
  digest(): string {
    return this.hash.digest('hex');
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** Stops writing without caring about the data (on error or abort). */
  discard(): void {
    this.file.discard();
  }
}
