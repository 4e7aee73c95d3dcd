// Regressions found by a review of the CLI (spawned as a user runs it, built bin):
// - with --emulator, an option the library refuses (--max-concurrent-jobs 101) printed its usage
//   error and then never exited (the emulator and the signal handlers stayed);
// - `status --emulator` (or a second, refused run) beside a live `run --emulator` started a second
//   emulator on the state's emulator directory, which ran the live run's jobs again;
// - offline `status` did not count jobs created and not seen to end;
// - a reader that went away (`| head -1`) crashed the run with an uncaught EPIPE;
// - SIGTERM (a container stop) exited 130, as if it were Ctrl-C;
// - the derived state directory ignored --max-requests-per-job and --key: changing them stopped
//   the run with GBS_STATE_MISMATCH instead of starting a run of its own.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, events, RUN_REVIEWS, reviews, start, waitFor, writeCsv } from '../cli/cli.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

const base = [...RUN_REVIEWS, '--emulator'];

describe('gemini-batch CLI', () => {
  it('exits 2 at once on an option the library refuses, with --emulator', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(5));
    const started = Date.now();
    const r = await cli([...base, '--max-concurrent-jobs', '101'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('maxConcurrentJobs');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('status beside a live run --emulator shows the recorded state without running its jobs again; a second run is refused', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(60));
    const args = [
      ...base,
      '--max-requests-per-job',
      '10',
      '--max-concurrent-jobs',
      '1',
      '--state',
      'st',
      '--json',
    ];
    const run = start(args, dir);
    await waitFor(() => events(run.stdout()).some((e) => e.type === 'job-created'));
    const [status, second] = await Promise.all([
      cli(['status', '--state', 'st', '--emulator'], dir),
      cli(args, dir),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('a run with --emulator is going on');
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('GBS_STATE_LOCKED');
    expect(await run.exit).toBe(0);
    const done = events(run.stdout()).find((e) => e.type === 'summary');
    // 6 chunks, 6 jobs: none failed and was sent again because a second emulator ran it.
    expect(done?.summary).toMatchObject({ rows: 60, succeeded: 60, jobsCreated: 6 });
    expect(events(run.stdout()).filter((e) => e.type === 'warning' && e.code === 'RESUBMIT')).toEqual([]);
  });

  it('SIGTERM stops cleanly with 143; offline status counts the jobs in flight; the rerun resumes', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(40));
    const args = [...base, '--max-requests-per-job', '10', '--state', 'st', '--json'];
    const run = start(args, dir);
    await waitFor(() => events(run.stdout()).filter((e) => e.type === 'job-created').length >= 2);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(143);
    expect(events(run.stdout()).find((e) => e.type === 'stopped')).toMatchObject({ signal: 'SIGTERM' });

    const offline = await cli(['status', '--state', 'st'], dir);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/Jobs: .*\d+ created/);
    expect(offline.stdout).toContain('pass --emulator');

    const again = await cli(args, dir);
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, 'reviews.out.jsonl'), 'utf8').trim().split('\n')).toHaveLength(40);
  });

  it('a reader that goes away does not crash the run: it finishes its --out file', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(30));
    const run = start([...base, '--max-requests-per-job', '10', '--json'], dir);
    await waitFor(() => run.stdout().includes('\n'));
    run.child.stdout?.destroy(); // as `| head -1` does once it has its line
    expect(await run.exit).toBe(0);
    expect(run.stderr()).not.toMatch(/EPIPE|Unhandled/);
    expect(readFileSync(join(dir, 'reviews.out.jsonl'), 'utf8').trim().split('\n')).toHaveLength(30);
  });

  it('derives another state directory when the chunking changes, instead of a state mismatch', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(12));
    const first = await cli([...base, '--max-requests-per-job', '5'], dir);
    const second = await cli([...base, '--max-requests-per-job', '4'], dir);
    expect([first.code, second.code]).toEqual([0, 0]);
    const stateOf = (stderr: string) => /State: (\S+)/.exec(stderr)?.[1];
    expect(stateOf(first.stderr)).toBeDefined();
    expect(stateOf(second.stderr)).not.toBe(stateOf(first.stderr));
  });
});
