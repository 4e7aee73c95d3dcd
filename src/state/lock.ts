// One run per state directory: a lock file (`{ pid, host, since }`, created exclusively). A live
// process's lock refuses with GBS_STATE_LOCKED; a dead process's, or a file cut short, is taken over.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { GbsError } from '../errors.js';
import { processAlive } from '../util/process.js';

/** A lock this process holds. */
export interface Lock {
  readonly path: string;
  /** Removes the lock file and wakes whoever waits for it in this process; a second call does nothing. */
  release(): void;
}

/** What a refusal says, for the caller's kind of state. */
export interface LockMessages {
  /** The refusal: `holder` is 'another run in this process' or 'process <pid>'. */
  inUse(holder: string): string;
  /** When the lock kept being taken by others while we tried to take over a stale one. */
  contended: string;
}

/**
 * Locks held by this process, with how to wait for each to be given back. A lock file naming this
 * process but not listed here was left by an earlier process that had the same pid: it is stale.
 */
const heldLocks = new Map<string, { released: Promise<void>; release: () => void }>();

/**
 * When another run of this process holds `path`: a promise that settles when it lets go, or after
 * `timeoutMs` (a run that is closing lets go soon). Undefined, synchronously, when nobody here holds it.
 */
export function inProcessRelease(path: string, timeoutMs: number): Promise<void> | undefined {
  const held = heldLocks.get(path);
  if (!held) return undefined;
  return Promise.race([
    held.released,
    new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
  ]);
}

/** Takes the lock file `path` (its folder must exist), or throws GBS_STATE_LOCKED. */
export function acquireLock(path: string, messages: LockMessages): Lock {
  const me = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return register(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      // A lock file cut short by a crash: nobody holds it.
    }
    const mine = holder.pid === process.pid && holder.host === me.host;
    const live = holder.host === me.host && typeof holder.pid === 'number' && processAlive(holder.pid);
    if ((mine && heldLocks.has(path)) || (!mine && live)) {
      throw new GbsError(
        'GBS_STATE_LOCKED',
        messages.inUse(mine ? 'another run in this process' : `process ${holder.pid}`),
      );
    }
    rmSync(path, { force: true });
  }
  throw new GbsError('GBS_STATE_LOCKED', messages.contended);
}

function register(path: string): Lock {
  let wake = () => {};
  const released = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const entry = { released, release: wake };
  heldLocks.set(path, entry);
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      rmSync(path, { force: true });
      entry.release();
      if (heldLocks.get(path) === entry) heldLocks.delete(path);
    },
  };
}
