// Ctrl-C, status, cancel and resume, spawned as a user runs them against a standalone emulator
// (its jobs outlive the CLI process, its stats count every job ever created).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonl, tempDirs } from '../helpers.js';
import { cli, events, RUN_REVIEWS, reviews, standaloneEmulator, start, waitFor, writeCsv } from './cli.js';

const temp = tempDirs();

const runArgs = (url: string) => [
  ...RUN_REVIEWS,
  '--max-requests-per-job',
  '10',
  '--max-concurrent-jobs',
  '2',
  '--emulator-url',
  url,
];

/** Starts a run, waits until its first two jobs exist, then presses Ctrl-C. */
async function interrupted(dir: string, url: string) {
  const run = start([...runArgs(url), '--json'], dir);
  await waitFor(() => events(run.stdout()).filter((e) => e.type === 'job-created').length >= 2);
  run.child.kill('SIGINT');
  const code = await run.exit;
  const stateDir = events(run.stdout()).find((e) => e.type === 'start')?.stateDir as string;
  return { code, stderr: run.stderr(), stdout: run.stdout(), stateDir };
}

describe('gemini-batch run: Ctrl-C, status, cancel, resume', () => {
  it('Ctrl-C stops cleanly and says how to resume; status shows the live jobs; the rerun creates no job twice', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(40));
    const emu = await standaloneEmulator(dir, ['--running-ms', '3000']);
    const stopped = await interrupted(dir, emu.url);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('Stopped (SIGINT)');
    expect(stopped.stderr).toContain('To resume, run the same command again:');
    expect(stopped.stderr).toContain(`--emulator-url ${emu.url}`);
    expect(stopped.stderr).toContain(`State: ${stopped.stateDir}`);
    expect(events(stopped.stdout).find((e) => e.type === 'stopped')).toMatchObject({ signal: 'SIGINT' });

    // status, live from the emulator: two jobs in flight, with their counts and time waited.
    const [status, human] = await Promise.all([
      cli(['status', '--state', stopped.stateDir, '--emulator-url', emu.url, '--json'], dir),
      cli(['status', '--state', stopped.stateDir, '--emulator-url', emu.url], dir),
    ]);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.live).toBe(true);
    expect(report.run.model).toBe('gemini-2.5-flash');
    const attempts = report.chunks.flatMap((c: any) => c.attempts);
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a).toMatchObject({
        phase: 'created',
        live: true,
        state: expect.stringMatching(/PENDING|RUNNING/),
      });
      expect(a.job).toMatch(/^batches\//);
      expect(a.waitedMs).toBeGreaterThanOrEqual(0);
      expect(a.stats.requestCount).toBe(10);
    }
    expect(human.stdout).toMatch(/chunk 0 attempt 1: (PENDING|RUNNING) +\d+\/10 done, 0 failed · waited /);
    expect(human.stdout).toContain(`live from the emulator at ${emu.url}`);

    // The same command again collects the two jobs and creates the other two.
    const rerun = await cli([...runArgs(emu.url), '--json'], dir);
    expect(rerun.code).toBe(0);
    const evs = events(rerun.stdout);
    expect(evs.filter((e) => e.type === 'job-created' && !e.adopted)).toHaveLength(2);
    expect(evs.find((e) => e.type === 'summary')?.summary).toMatchObject({
      rows: 40,
      succeeded: 40,
      jobsCreated: 2,
    });
    const stats = await emu.stats();
    expect(stats.batchesCreated).toBe(4);
    expect(new Set(stats.batches.map((b) => b.displayName)).size).toBe(4);
    const out = readJsonl(join(dir, 'reviews.out.jsonl'));
    expect(out.map((r) => r.key)).toEqual(reviews(40).map((r) => r.id));
  });

  it('cancel cancels the jobs a stopped run left running', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(30));
    const emu = await standaloneEmulator(dir, ['--running-ms', '5000']);
    const stopped = await interrupted(dir, emu.url);
    expect(stopped.code).toBe(130);
    const noKey = await cli(['cancel', '--state', stopped.stateDir], dir);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--emulator-url');
    const res = await cli(['cancel', '--state', stopped.stateDir, '--emulator-url', emu.url], dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('to cancel 2 job(s)');
    expect(res.stdout).toMatch(
      /: batches\/\S+ \(\d+ of \d+ requests processed \(possibly billed\) so far\)\n/,
    );
    const states = (await emu.stats()).batches.map((b) => b.state);
    expect(states).toEqual(['BATCH_STATE_CANCELLED', 'BATCH_STATE_CANCELLED']);
    const status = await cli(['status', '--state', stopped.stateDir, '--emulator-url', emu.url], dir);
    expect(status.stdout).toMatch(/Jobs: 2 cancelled/);
    const again = await cli(['cancel', '--state', stopped.stateDir, '--emulator-url', emu.url], dir);
    expect(again.stdout).toContain('No job to cancel');
  });

  it('status of a directory that is not a run is bad usage', async () => {
    const dir = temp();
    const res = await cli(['status', '--state', '.'], dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('holds no run state');
  });
});
