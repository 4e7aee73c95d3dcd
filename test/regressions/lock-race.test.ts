// Regression: the state lock was created empty and written in a second step, and a stale lock was
// taken over by read-remove-create: processes starting at the same moment could all hold it (two
// runs paying for every job). Another host's lock was always taken over, even while that run lived.
// Real child processes race for the lock here, all released at one instant.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireLock } from '../../src/state/lock.js';
import { RunState } from '../../src/state/run-state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOCK_MODULE = join(ROOT, 'src/state/lock.ts');
const CHILDREN = 8;
const ROUNDS = 10;
const HOLD_MS = 300;

const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gbs-lock-race-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const fingerprint = { model: 'm', maxRequestsPerJob: 10, maxBytesPerJob: 1000, outputSchema: null };
const messages = { inUse: (h: string) => `in use by ${h}`, contended: 'contended' };

/** A pid that no process has (one that just exited). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '0']).pid;
  if (pid === undefined) throw new Error('could not start node');
  return pid;
}

function writeLock(path: string, holder: { pid: number; host: string }, ageMs = 0): void {
  writeFileSync(path, JSON.stringify({ ...holder, since: new Date().toISOString() }));
  if (ageMs) {
    const then = new Date(Date.now() - ageMs);
    utimesSync(path, then, then);
  }
}

type Reply = { type: 'ready' } | { type: 'result'; ok: boolean; error?: string } | { type: 'released' };

/** A child process that takes the lock when told, at a given instant. */
class Racer {
  private readonly replies: Reply[] = [];
  private waiting: (() => void) | undefined;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.on('message', (m) => {
      this.replies.push(m as Reply);
      this.waiting?.();
    });
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    child.stderr?.on('data', (d) => process.stderr.write(d));
  }

  async next(): Promise<Reply> {
    while (this.replies.length === 0) {
      await new Promise<void>((resolve, reject) => {
        this.waiting = resolve;
        setTimeout(() => reject(new Error('no reply from a racer within 10 s')), 10_000).unref();
      });
    }
    return this.replies.shift()!;
  }

  send(m: object): void {
    this.child.send(m);
  }
}

describe('processes taking the lock at the same instant', () => {
  let script: string;
  let racers: Racer[] = [];

  beforeAll(async () => {
    script = join(mkdtempSync(join(tmpdir(), 'gbs-lock-racer-')), 'racer.mjs');
    writeFileSync(
      script,
      `import { acquireLock } from ${JSON.stringify(pathToFileURL(LOCK_MODULE).href)};
let lock;
process.on('message', (m) => {
  if (m.type === 'try') {
    while (Date.now() < m.at) {}
    try {
      lock = acquireLock(m.path, { inUse: (h) => 'in use by ' + h, contended: 'contended' });
      process.send({ type: 'result', ok: true });
    } catch (err) {
      process.send({ type: 'result', ok: false, error: err.code + ': ' + err.message });
    }
  } else if (m.type === 'release') {
    lock?.release();
    lock = undefined;
    process.send({ type: 'released' });
  } else if (m.type === 'exit') {
    process.disconnect();
  }
});
process.send({ type: 'ready' });
`,
    );
    racers = Array.from(
      { length: CHILDREN },
      () =>
        new Racer(
          spawn(process.execPath, ['--import', 'tsx', script], {
            cwd: ROOT,
            stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          }),
        ),
    );
    for (const r of racers) expect(await r.next()).toEqual({ type: 'ready' });
  });

  afterAll(async () => {
    for (const r of racers) {
      if (r.child.connected) r.send({ type: 'exit' });
    }
    await Promise.all(racers.map((r) => r.exited));
    rmSync(join(script, '..'), { recursive: true, force: true });
  });

  /** One round: all racers try at once; returns how many got the lock and the refusals. */
  async function round(path: string): Promise<{ winners: number; errors: string[] }> {
    const at = Date.now() + 150;
    for (const r of racers) r.send({ type: 'try', path, at });
    const results = await Promise.all(racers.map((r) => r.next()));
    // Winners hold it until every racer has tried, and at least HOLD_MS.
    await new Promise((r) => setTimeout(r, Math.max(0, at + HOLD_MS - Date.now())));
    for (const r of racers) r.send({ type: 'release' });
    for (const r of racers) expect(await r.next()).toEqual({ type: 'released' });
    const winners = results.filter((m) => m.type === 'result' && m.ok).length;
    const errors = results.flatMap((m) => (m.type === 'result' && !m.ok ? [m.error ?? ''] : []));
    return { winners, errors };
  }

  it('exactly one gets a lock nobody held', async () => {
    const dir = temp();
    const counts: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const path = join(dir, `lock-${i}`);
      const { winners, errors } = await round(path);
      counts.push(winners);
      if (winners === 1) for (const e of errors) expect(e).toMatch(/^GBS_STATE_LOCKED: /);
      expect(existsSync(path)).toBe(false);
    }
    expect(counts).toEqual(Array(ROUNDS).fill(1));
  });

  it('exactly one takes over the lock of a dead process', async () => {
    const dir = temp();
    const counts: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const path = join(dir, `lock-${i}`);
      writeLock(path, { pid: deadPid(), host: hostname() });
      const { winners, errors } = await round(path);
      counts.push(winners);
      if (winners === 1) for (const e of errors) expect(e).toMatch(/^GBS_STATE_LOCKED: /);
      expect(existsSync(`${path}.takeover`)).toBe(false);
    }
    expect(counts).toEqual(Array(ROUNDS).fill(1));
  });
});

describe('a lock from another host', () => {
  it('is refused while it is refreshed (fresh mtime), saying which host holds it', async () => {
    const dir = temp();
    const path = join(dir, 'lock');
    writeLock(path, { pid: process.pid, host: 'other-host.example' });
    const before = readFileSync(path, 'utf8');
    const err = await RunState.open(dir, { fingerprint, onStateMismatch: 'error' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'GBS_STATE_LOCKED' });
    expect(err.message).toContain('other-host.example');
    expect(err.message).toContain('90 s');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('is taken over once it has not been refreshed for 90 s', async () => {
    const dir = temp();
    const path = join(dir, 'lock');
    writeLock(path, { pid: process.pid, host: 'other-host.example' }, 120_000);
    const state = await RunState.open(dir, { fingerprint, onStateMismatch: 'error' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    state.release();
    expect(existsSync(path)).toBe(false);
  });
});

describe('the lock file', () => {
  it('is refreshed while held, so other hosts see its holder lives; release stops that', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const path = join(temp(), 'lock');
      const lock = acquireLock(path, messages);
      const then = new Date(Date.now() - 120_000);
      utimesSync(path, then, then);
      vi.advanceTimersByTime(20_000);
      expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(10_000);
      lock.release();
      expect(existsSync(path)).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an empty one is held while young (an older version writing it), taken over when old', () => {
    const path = join(temp(), 'lock');
    writeFileSync(path, '');
    expect(() => acquireLock(path, messages)).toThrow(expect.objectContaining({ code: 'GBS_STATE_LOCKED' }));
    const then = new Date(Date.now() - 60_000);
    utimesSync(path, then, then);
    const lock = acquireLock(path, messages);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('a takeover guard left by a crash long ago does not block a takeover', () => {
    const path = join(temp(), 'lock');
    writeLock(path, { pid: deadPid(), host: hostname() });
    writeFileSync(`${path}.takeover`, '{}');
    const then = new Date(Date.now() - 60_000);
    utimesSync(`${path}.takeover`, then, then);
    const lock = acquireLock(path, messages);
    expect(existsSync(`${path}.takeover`)).toBe(false);
    lock.release();
  });

  it('a live holder in this process or another on this host is refused', () => {
    const path = join(temp(), 'lock');
    const lock = acquireLock(path, messages);
    expect(() => acquireLock(path, messages)).toThrow('in use by another run in this process');
    lock.release();
    writeLock(path, { pid: process.ppid, host: hostname() });
    expect(() => acquireLock(path, messages)).toThrow(`in use by process ${process.ppid}`);
  });

  it('release leaves a lock that another process has taken over', () => {
    const path = join(temp(), 'lock');
    const lock = acquireLock(path, messages);
    writeLock(path, { pid: process.ppid, host: 'other-host.example' });
    lock.release();
    expect(existsSync(path)).toBe(true);
  });
});
