// Output files that never look complete when they are not: lines go to a temp file beside the
// target, which is fsynced and renamed into place only when the stream ends cleanly.

import { once } from 'node:events';
import {
  createWriteStream,
  fsync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { promisify } from 'node:util';
import { fsyncDir } from '../state/files.js';
import { processAlive } from '../util/process.js';

const fsyncAsync = promisify(fsync);

export type PathOrWritable = string | URL | Writable;

/** Where text goes: a temp file renamed into place at the end, or a caller's Writable as is. */
export interface TextTarget {
  write(text: string): Promise<void> | undefined;
  /** Flushes, and for a path: fsync, rename into place. */
  finish(): Promise<void>;
  /** On failure: a path's temp file is removed; a caller's Writable is left to the caller. */
  abandon(): Promise<void>;
}

const FLUSH_BYTES = 256 * 1024;

/** Temp files a killed earlier run left beside the target (its pid no longer alive) are removed. */
function removeDeadTemps(finalPath: string): void {
  const prefix = `.${basename(finalPath)}.`;
  for (const name of readdirSync(dirname(finalPath))) {
    const m =
      name.startsWith(prefix) && name.endsWith('.tmp') ? /^(\d+)$/.exec(name.slice(prefix.length, -4)) : null;
    if (!m) continue;
    if (!processAlive(Number(m[1]))) rmSync(join(dirname(finalPath), name), { force: true });
  }
}

export function openTextTarget(target: PathOrWritable): TextTarget {
  const isPath = typeof target === 'string' || target instanceof URL;
  const finalPath = isPath ? (target instanceof URL ? target.pathname : target) : undefined;
  const tmpPath = finalPath
    ? join(dirname(finalPath), `.${basename(finalPath)}.${process.pid}.tmp`)
    : undefined;
  // A failing file (no folder, disk full, no permission) must fail the pipeline, not crash the process.
  let failure: Error | undefined;
  if (finalPath) {
    try {
      mkdirSync(dirname(finalPath), { recursive: true });
      removeDeadTemps(finalPath);
    } catch (err) {
      failure = err as Error;
    }
  }
  // Opened synchronously: the temp file exists (and can be removed) from the start.
  let out: Writable;
  if (tmpPath && !failure) {
    try {
      out = createWriteStream(tmpPath, { fd: openSync(tmpPath, 'w') });
    } catch (err) {
      failure = err as Error;
      out = new PassThrough();
    }
  } else out = tmpPath ? new PassThrough() : (target as Writable);
  out.on('error', (err) => {
    failure ??= err;
  });
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = (): Promise<void> | undefined => {
    if (failure) return Promise.reject(failure);
    if (pending.length === 0) return undefined;
    const text = pending.join('');
    pending = [];
    pendingBytes = 0;
    if (out.write(text)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off('drain', done);
        out.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      out.on('drain', done);
      out.on('error', done);
    });
  };
  return {
    write(text) {
      if (failure) return Promise.reject(failure);
      pending.push(text);
      pendingBytes += text.length;
      return pendingBytes >= FLUSH_BYTES ? flush() : undefined;
    },
    async finish() {
      await flush();
      if (failure) throw failure;
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
    async abandon() {
      pending = [];
      if (!tmpPath) return;
      out.destroy();
      try {
        rmSync(tmpPath, { force: true });
      } catch {
        // It was never created (the folder is unusable).
      }
    },
  };
}
