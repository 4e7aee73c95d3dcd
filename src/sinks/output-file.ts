// Output files that never look complete when they are not: lines go to a temp file beside the
// target, which is fsynced and renamed into place only when the stream ends cleanly.

import { once } from 'node:events';
import { createWriteStream, fsync, rmSync, type WriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { fsyncDir } from '../state/files.js';

const fsyncAsync = promisify(fsync);

export type PathOrWritable = string | URL | Writable;

/** Where text goes: a temp file renamed into place at the end, or a caller's Writable as is. */
export interface TextTarget {
  write(text: string): Promise<void> | undefined;
  /** Flushes, and for a path: fsync, rename into place. */
  finish(): Promise<void>;
  /** On failure: a path's temp file is removed; a caller's Writable is left to the caller. */
  abandon(): void;
}

const FLUSH_BYTES = 256 * 1024;

export function openTextTarget(target: PathOrWritable): TextTarget {
  const isPath = typeof target === 'string' || target instanceof URL;
  const finalPath = isPath ? (target instanceof URL ? target.pathname : target) : undefined;
  const tmpPath = finalPath
    ? join(dirname(finalPath), `.${basename(finalPath)}.${process.pid}.tmp`)
    : undefined;
  const out: Writable = tmpPath ? createWriteStream(tmpPath) : (target as Writable);
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = (): Promise<void> | undefined => {
    if (pending.length === 0) return undefined;
    const text = pending.join('');
    pending = [];
    pendingBytes = 0;
    if (!out.write(text)) return once(out, 'drain').then(() => undefined);
    return undefined;
  };
  return {
    write(text) {
      pending.push(text);
      pendingBytes += text.length;
      return pendingBytes >= FLUSH_BYTES ? flush() : undefined;
    },
    async finish() {
      await flush();
      if (!tmpPath || !finalPath) return;
      const stream = out as WriteStream;
      await new Promise<void>((resolve, reject) =>
        stream.write('', (err) => (err ? reject(err) : resolve())),
      );
      const fd = (stream as unknown as { fd?: number }).fd;
      if (typeof fd === 'number') await fsyncAsync(fd);
      stream.end();
      await once(stream, 'close');
      await rename(tmpPath, finalPath);
      fsyncDir(dirname(finalPath));
    },
    abandon() {
      pending = [];
      if (tmpPath) {
        out.destroy();
        rmSync(tmpPath, { force: true });
      }
    },
  };
}
