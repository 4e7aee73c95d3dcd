// An append-only text file written in large pieces: lines gather in memory up to `flushBytes`
// (the bound), then go to disk with backpressure. Closing fsyncs, so a spooled chunk is durable.

import { once } from 'node:events';
import { createWriteStream, fsync, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

export class SpoolWriter {
  private readonly stream: WriteStream;
  private pending: string[] = [];
  private pendingBytes = 0;
  private fd: number | undefined;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly flushBytes = 256 * 1024,
  ) {
    this.stream = createWriteStream(path);
    this.stream.on('open', (fd) => {
      this.fd = fd;
    });
  }

  /** Appends text; returns a promise only when the caller must wait (disk is behind). */
  write(text: string): Promise<void> | undefined {
    this.pending.push(text);
    this.pendingBytes += text.length;
    this.bytes += Buffer.byteLength(text);
    if (this.pendingBytes >= this.flushBytes) return this.flush();
    return undefined;
  }

  private flush(): Promise<void> | undefined {
    if (this.pending.length === 0) return undefined;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(chunk)) return once(this.stream, 'drain').then(() => undefined);
    return undefined;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.fd === undefined && !this.stream.destroyed) await once(this.stream, 'open');
    await new Promise<void>((resolve, reject) =>
      this.stream.write('', (err) => (err ? reject(err) : resolve())),
    );
    if (this.fd !== undefined) await fsyncAsync(this.fd);
    this.stream.end();
    await once(this.stream, 'close');
  }

  /** Stops writing without caring about the data (on error or abort). */
  discard(): void {
    this.pending = [];
    this.stream.destroy();
  }
}
