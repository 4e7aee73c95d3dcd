// One run per state directory: a lock file (`{ pid, host, since }`). It is written to a temp file
// beside it and hard-linked into place, so it never exists without its content and two takers
// cannot both create it. A live process's lock refuses with GBS_STATE_LOCKED. A dead process's (same
// host), an old one cut short, or another host's not refreshed for HOST_STALE_MS is taken over, by
// one taker at a time: the takeover is done holding a second lock, `<lock>.takeover`.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
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
  /** The refusal: `holder` is 'another run in this process' or 'process <pid>' (and its host, if another). */
  inUse(holder: string): string;
  /** When the lock kept being taken by others while we tried to take over a stale one. */
  contended: string;
}

/** How often a held lock's mtime is refreshed, so that other hosts see its holder is still there. */
const REFRESH_MS = 20_000;
/** A lock of another host (whose pid we cannot check) not refreshed for this long is taken over. */
const HOST_STALE_MS = 90_000;
/** An empty or unparsable lock (an older version between create and write, or its crash) younger than this is held. */
const UNREADABLE_STALE_MS = 5_000;
/** A takeover guard is held for a few file operations: one this old was left by a crash. */
const GUARD_STALE_MS = 30_000;
/** How long acquireLock may wait (in short sleeps) for a takeover by another process, or an unreadable lock. */
const WAIT_BUDGET_MS = 1_000;

/**
 * Locks held by this process, with how to wait for each to be given back. A lock file naming this
 * process but not listed here was left by an earlier process that had the same pid: it is stale.
 */
const heldLocks = new Map<string, { released: Promise<void>; release: () => void }>();

/** How long a run waits for another run of this process to let go of a lock (it may be closing). */
export const IN_PROCESS_WAIT_MS = 30_000;

/**
 * When another run of this process holds `path`: a promise that settles when it lets go, or after
 * `timeoutMs` (a run that is closing lets go soon); it rejects with `signal`'s reason if that fires
 * first. Undefined, synchronously, when nobody here holds it.
 */
export function inProcessRelease(
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> | undefined {
  const held = heldLocks.get(path);
  if (!held) return undefined;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  return Promise.race([
    held.released,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs).unref();
    }),
    new Promise<void>((_resolve, reject) => {
      if (!signal) return;
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/** Takes the lock file `path` (its folder must exist), or throws GBS_STATE_LOCKED. */
export function acquireLock(path: string, messages: LockMessages): Lock {
  const host = hostname();
  const content = JSON.stringify({ pid: process.pid, host, since: new Date().toISOString() });
  const deadline = Date.now() + WAIT_BUDGET_MS;
  // Each turn either takes the lock, refuses, or saw the lock change hands (or waited): bounded.
  for (let tries = 0; tries < 200; tries++) {
    if (createExclusive(path, content)) return register(path, content);
    const seen = readLockFile(path);
    if (!seen) continue; // given back meanwhile: try again
    const verdict = judge(seen, path, host);
    if (verdict.held !== undefined) throw new GbsError('GBS_STATE_LOCKED', messages.inUse(verdict.held));
    if (verdict.stale) {
      const taken = takeOver(path, content, host);
      if (taken) return register(path, content);
      if (taken === false) continue; // the lock changed hands: look again
    }
    // Unreadable and young (being written by an older version), or another process is taking it over.
    if (Date.now() >= deadline) break;
    sleep(10 + Math.floor(Math.random() * 20));
  }
  throw new GbsError('GBS_STATE_LOCKED', messages.contended);
}

interface Seen {
  raw: string;
  ino: number;
  mtimeMs: number;
}

type Verdict = { held: string; stale?: undefined } | { held?: undefined; stale: boolean };

/** Whether the lock file `seen` is held (by whom, for the message), stale, or neither yet (unreadable and young). */
function judge(seen: Seen, path: string, host: string): Verdict {
  let holder: { pid?: unknown; host?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(seen.raw);
    if (parsed && typeof parsed === 'object') holder = parsed;
  } catch {
    // Empty or cut short: below.
  }
  const age = Date.now() - seen.mtimeMs;
  if (!holder || typeof holder.pid !== 'number') {
    // Ours are never seen so (they are linked into place whole); an older version's lock is empty
    // between its create and its write, and stays so if it crashed then.
    return { stale: age > UNREADABLE_STALE_MS };
  }
  if (holder.host !== host) {
    if (age > HOST_STALE_MS) return { stale: true };
    return {
      held: `process ${holder.pid} on host ${String(holder.host)} (its lock is taken over once it has not been refreshed for ${HOST_STALE_MS / 1000} s)`,
    };
  }
  if (holder.pid === process.pid) {
    // Ours if listed; otherwise an earlier process with our pid left it.
    return heldLocks.has(path) ? { held: 'another run in this process' } : { stale: true };
  }
  return processAlive(holder.pid) ? { held: `process ${holder.pid}` } : { stale: true };
}

/**
 * Replaces the stale lock at `path` with ours, holding the takeover guard so that two takers cannot
 * both remove it and both create theirs. True: taken; false: the lock changed meanwhile (look
 * again); undefined: another process holds the guard (wait a little).
 */
function takeOver(path: string, content: string, host: string): boolean | undefined {
  const guard = `${path}.takeover`;
  if (!createExclusive(guard, content)) {
    removeIfStaleGuard(guard);
    return undefined;
  }
  try {
    // Judged again under the guard: only what is still stale now is removed.
    const seen = readLockFile(path);
    if (!seen) return createExclusive(path, content);
    if (!judge(seen, path, host).stale) return false;
    // Nobody else removes a lock without the guard (a holder removes only its own, live, lock).
    const now = statOf(path);
    if (!now || now.ino !== seen.ino) return false;
    rmSync(path, { force: true });
    return createExclusive(path, content);
  } finally {
    rmSync(guard, { force: true });
  }
}

/** A guard left by a crash during a takeover (it is held for a few file operations) is removed. */
function removeIfStaleGuard(guard: string): void {
  const seen = statOf(guard);
  if (seen && Date.now() - seen.mtimeMs > GUARD_STALE_MS) rmSync(guard, { force: true });
}

/**
 * Creates `path` with `content` if it does not exist, atomically: a temp file beside it is linked
 * to it. False when it exists.
 */
function createExclusive(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, content, { flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      return createByWrite(path, content); // a file system without hard links
    }
    throw err;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Without hard links: create then write (the empty file in between is judged held while young). */
function createByWrite(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The lock file's content and identity, or undefined if there is none. */
function readLockFile(path: string): Seen | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    return { raw: readFileSync(fd, 'utf8'), ino: stat.ino, mtimeMs: stat.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function statOf(path: string): { ino: number; mtimeMs: number } | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether the lock file at `path` is still the one we wrote (not taken over, not removed). */
function stillOurs(path: string, content: string): boolean {
  try {
    return readFileSync(path, 'utf8') === content;
  } catch {
    return false;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A synchronous sleep (acquireLock is synchronous; the waits are a few milliseconds). */
function sleep(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function register(path: string, content: string): Lock {
  let wake = () => {};
  const released = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const entry = { released, release: wake };
  heldLocks.set(path, entry);
  // Other hosts cannot check our pid: they take the lock over once its mtime is HOST_STALE_MS old.
  const refresh = setInterval(() => {
    try {
      if (stillOurs(path, content)) {
        const now = new Date();
        utimesSync(path, now, now);
      }
    } catch {
      // Best effort: the next tick tries again.
    }
  }, REFRESH_MS);
  refresh.unref();
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      clearInterval(refresh);
      // Only our own: a lock another host took over (we did not refresh it in time) is theirs.
      if (stillOurs(path, content)) rmSync(path, { force: true });
      entry.release();
      if (heldLocks.get(path) === entry) heldLocks.delete(path);
    },
  };
}
