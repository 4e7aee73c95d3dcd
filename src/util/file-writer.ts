// Text to a file through one reused buffer: strings are encoded straight into it and it goes to
// disk when full. Unlike a WriteStream, which makes a new Buffer for every string it is given,
// this allocates nothing per write, so a long run does not leave hundreds of megabytes of spent
// buffers for the garbage collector (which lets them pile up before it runs).

import type { Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const writeAsync = promisify(fs.write) as (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
) => Promise<{ bytesWritten: number }>;
const fsyncAsync = promisify(fs.fsync);

const SIZE = 256 * 1024;

export class FileWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(SIZE);
  private spare = Buffer.allocUnsafe(SIZE);
  private used = 0;
  /** The background write; it never rejects: its error is kept in `failure`. */
  private inflight: Promise<void> | undefined;
  /** The first write error: every later write, flush and close fails with it. */
  private failure: Error | undefined;
  private closed = false;
  /** Bytes handed to the file so far (all of them after `close`). */
  bytes = 0;

  /** Opens (creates or truncates) `path` at once: the file exists from here on. */
  constructor(
    readonly path: string,
    private readonly hash?: Hash,
  ) {
    this.fd = fs.openSync(path, 'w');
  }

  /** Appends text; returns a promise only when the caller must wait for the disk. */
  write(text: string): Promise<void> | undefined {
    // A background write failed (disk full, I/O error): the caller's stream fails with its error.
    if (this.failure) return Promise.reject(this.failure);
    // Encoded size is at most 3 bytes per UTF-16 unit.
    if (this.used + text.length * 3 <= SIZE) {
      this.used += this.buf.write(text, this.used);
      return undefined;
    }
    return this.slowWrite(text);
  }

  private async slowWrite(text: string): Promise<void> {
    await this.flush();
    if (text.length * 3 <= SIZE) {
      this.used += this.buf.write(text, this.used);
      return;
    }
    // Longer than the buffer: written on its own.
    const data = Buffer.from(text);
    await this.waitInflight();
    this.hash?.update(data);
    this.bytes += data.length;
    await this.keepFailure(writeAll(this.fd, data, data.length));
    this.throwFailure();
  }

  /** Waits for the background write, then throws the first write error, if there was one. */
  private async waitInflight(): Promise<void> {
    const pending = this.inflight;
    this.inflight = undefined;
    if (pending) await pending;
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * A write that never rejects: its error is kept, to be thrown by the next write, flush or close.
   * A background write is awaited only at the next slow write or at close, so a rejection left
   * without a handler until then would be an unhandled rejection, which ends the process.
   */
  private keepFailure(write: Promise<void>): Promise<void> {
    return write.catch((err: Error) => {
      this.failure ??= err;
    });
  }

  /** Hands the buffer to the disk (in the background) and continues in the other one. */
  private async flush(): Promise<void> {
    await this.waitInflight();
    if (this.used === 0) return;
    const full = this.buf;
    const length = this.used;
    this.buf = this.spare;
    this.spare = full;
    this.used = 0;
    this.hash?.update(full.subarray(0, length));
    this.bytes += length;
    this.inflight = this.keepFailure(writeAll(this.fd, full, length));
  }

  /** Writes what is left, fsyncs (with `sync`) and closes. */
  async close(sync = true): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
      await this.waitInflight();
      if (sync) await fsyncAsync(this.fd);
    } catch (err) {
      // Failed: the file is given up (as by `discard`), so its descriptor is not left open.
      this.discard();
      throw err;
    }
    this.closed = true;
    fs.closeSync(this.fd);
  }

  /** Stops without caring about the data (after an error or an abort). */
  discard(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = this.inflight ?? Promise.resolve();
    pending.finally(() => fs.closeSync(this.fd)).catch(() => undefined);
  }
}

async function writeAll(fd: number, data: Buffer, length: number): Promise<void> {
  let offset = 0;
  while (offset < length) {
    const { bytesWritten } = await writeAsync(fd, data, offset, length - offset);
    offset += bytesWritten;
  }
}
