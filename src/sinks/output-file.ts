// Output files that never look complete when they are not: lines go to a temp file beside the
// target, which is fsynced and renamed into place only when the stream ends cleanly.

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { fsyncDir } from '../state/files.js';
import { FileWriter } from '../util/file-writer.js';
import { processAlive } from '../util/process.js';

export type PathOrWritable = string | URL | Writable;

/** Where text goes: a temp file renamed into place at the end, or a caller's Writable as is. */
export interface TextTarget {
  /** Why the target could not be opened (a path's folder or temp file), if it could not. */
  readonly openError: Error | undefined;
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

/** A caller's Writable: text gathers up to FLUSH_BYTES, then is written with backpressure. */
function writableTarget(out: Writable): TextTarget {
  let failure: Error | undefined;
  out.on('error', (err) => {
    failure ??= err;
  });
  const closed = () =>
    failure ?? new Error('the output stream was closed (or ended) before every result was written to it');
  /** Writes `text` and waits until the stream has taken it: drained, or written when `untilWritten`. */
  const send = (text: string, untilWritten: boolean): Promise<void> | undefined => {
    // A destroyed or ended stream emits neither 'drain' nor 'error' again: waiting would hang.
    if (out.destroyed || out.writableEnded) return Promise.reject(closed());
    let written: ((err?: Error | null) => void) | undefined;
    const wrote = new Promise<void>((resolve, reject) => {
      const onClose = () => done(closed());
      const onError = (err: Error) => done(err);
      const done = (err?: Error | null) => {
        out.off('drain', onDrain);
        out.off('error', onError);
        out.off('close', onClose);
        if (err) reject(failure ?? err);
        else resolve();
      };
      const onDrain = () => done();
      written = done;
      out.on('error', onError);
      out.on('close', onClose);
      if (!untilWritten) out.on('drain', onDrain);
    });
    const more = out.write(text, untilWritten ? (err) => written?.(err) : undefined);
    if (!untilWritten && more) {
      written?.();
      return undefined;
    }
    return wrote;
  };
  let pending = '';
  const flush = (): Promise<void> | undefined => {
    if (failure) return Promise.reject(failure);
    if (pending.length === 0) return undefined;
    const text = pending;
    pending = '';
    return send(text, false);
  };
  return {
    openError: undefined,
    write(text) {
      if (failure) return Promise.reject(failure);
      pending += text;
      return pending.length >= FLUSH_BYTES ? flush() : undefined;
    },
    async finish() {
      if (failure) throw failure;
      // The rest, and wait until the stream has written it (a file stream writes in the background:
      // its callback comes after, with its error if it failed). An object-mode stream with nothing
      // left gets no empty chunk.
      const text = pending;
      pending = '';
      if (text.length > 0 || !out.writableObjectMode) await send(text, true);
      if (failure) throw failure;
    },
    async abandon() {
      pending = '';
    },
  };
}

export function openTextTarget(target: PathOrWritable): TextTarget {
  const isPath = typeof target === 'string' || target instanceof URL;
  if (!isPath) return writableTarget(target as Writable);
  // A file: URL is decoded (spaces, non-ASCII), not taken as its percent-encoded pathname.
  const finalPath = target instanceof URL ? fileURLToPath(target) : target;
  const tmpPath = join(dirname(finalPath), `.${basename(finalPath)}.${process.pid}.tmp`);
  // A failing file (no folder, disk full, no permission) must fail the pipeline, not crash the process.
  let failure: Error | undefined;
  let file: FileWriter | undefined;
  try {
    mkdirSync(dirname(finalPath), { recursive: true });
    // The rename at the end would fail: say so now.
    if (existsSync(finalPath) && statSync(finalPath).isDirectory())
      throw Object.assign(new Error(`EISDIR: the output ${finalPath} is a directory`), { code: 'EISDIR' });
    removeDeadTemps(finalPath);
    // Opened at once: the temp file exists (and can be removed) from the start.
    file = new FileWriter(tmpPath);
  } catch (err) {
    failure = err as Error;
  }
  const guard = (p: Promise<void> | undefined): Promise<void> | undefined =>
    p?.catch((err: Error) => {
      failure ??= err;
      throw err;
    });
  const openError = failure;
  return {
    openError,
    write(text) {
      if (failure || !file) return Promise.reject(failure);
      return guard(file.write(text));
    },
    async finish() {
      if (failure || !file) throw failure;
      await file.close();
      await rename(tmpPath, finalPath);
      fsyncDir(dirname(finalPath));
    },
    async abandon() {
      file?.discard();
      try {
        rmSync(tmpPath, { force: true });
      } catch {
        // It was never created (the folder is unusable).
      }
    },
  };
}
