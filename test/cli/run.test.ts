// `gemini-batch run` spawned as a user runs it: CSV → JSONL and NDJSON → CSV on the built-in
// emulator, the plain progress format off a TTY, the summary against the output, and the ways it
// refuses to start (bad flags, a missing column, no key) without sending anything.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { readJsonl, tempDirs } from '../helpers.js';
import { cli, events, reviews, standaloneEmulator, writeCsv } from './cli.js';

const temp = tempDirs();

describe('gemini-batch run', () => {
  it('CSV → JSONL on --emulator: plain progress lines, a summary, FAKE said loud', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(25));
    const args = [
      'run',
      '--input',
      'reviews.csv',
      '--prompt',
      'Classify the sentiment of: {{ review }} (about a {{product}})',
      '--key',
      'id',
      '--out',
      'out/reviews.jsonl',
      '--max-requests-per-job',
      '10',
      '--emulator',
    ];
    const res = await cli(args, dir);
    expect(res.stderr).not.toContain('failed:');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    const out = readJsonl(join(dir, 'out/reviews.jsonl'));
    expect(out.map((r) => r.key)).toEqual(reviews(25).map((r) => r.id));
    expect(out[1].text).toMatch(
      /^echo [0-9a-f]{8}: Classify the sentiment of: Review number 1: good product \(about a lamp\)$/,
    );
    expect(out[0].row).toEqual(reviews(1)[0]);
    // The derived state directory is printed; fake answers never share it with real ones.
    expect(res.stderr).toMatch(/State: \.gemini-batch\/reviews-[0-9a-f]{8}-emulator \(derived/);
    expect(res.stderr).toContain('FAKE ANSWERS');
    // Off a TTY: one plain line per event, each with the elapsed time.
    const progress = res.stderr.split('\n').filter((l) => l.startsWith('['));
    expect(progress.length).toBeGreaterThan(5);
    for (const l of progress) expect(l).toMatch(/^\[ *\d+\.\ds\] /);
    expect(progress.join('\n')).toMatch(/chunk 0: spooled 10 requests \(/);
    expect(progress.join('\n')).toMatch(/chunk 2: created job batches\//);
    expect(progress.join('\n')).toMatch(
      /chunk 1: batches\/\S+ SUCCEEDED 10\/10 requests done, 0 failed \(waited /,
    );
    expect(progress.join('\n')).toMatch(/chunk 2: wrote 5 rows \(5 ok, 0 failed\)/);
    // A job line is printed when its state or counts change, not on every poll.
    const jobLines = progress.filter((l) => / batches\/\S+ (PENDING|RUNNING|SUCCEEDED)/.test(l));
    expect(new Set(jobLines.map((l) => l.replace(/^\[[^\]]*\] /, '').replace(/ \(waited.*/, ''))).size).toBe(
      jobLines.length,
    );
    expect(res.stderr).toMatch(/Done in .*: 25 rows, 25 succeeded, 0 failed\./);
    expect(res.stderr).toMatch(/Jobs: 3 created by this run, for 3 chunk\(s\)\./);
    expect(res.stderr).toMatch(/Cost: \$\S+ at batch price; \$\S+ had it been sent interactively/);

    // The same command again: every chunk is already answered, nothing is created.
    const again = await cli(args, dir);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Jobs: 0 created by this run, for 3 chunk\(s\)\./);
    expect(readJsonl(join(dir, 'out/reviews.jsonl'))).toEqual(out);
  });

  it('NDJSON → CSV with --system and --schema; a row missing a column is an error record (exit 1); --json summary = usage in the output', async () => {
    const dir = temp();
    const rows = [
      { ticket: 1, body: 'The screen is broken', user: { name: 'Ann' } },
      { ticket: 2, body: 'Love it', user: { name: 'Bob' } },
      { ticket: 3, user: { name: 'Cy' } }, // no body
      { ticket: 4, body: 'Where is my order?', user: { name: 'Di' } },
    ];
    writeFileSync(join(dir, 'tickets.ndjson'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeFileSync(
      join(dir, 'schema.json'),
      JSON.stringify({
        type: 'object',
        properties: { sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] } },
        required: ['sentiment'],
      }),
    );
    /** The same run, writing to `out` (its format by its extension). */
    const runTo = (out: string) =>
      cli(
        [
          'run',
          '-i',
          'tickets.ndjson',
          '-p',
          'Ticket from {{user.name}}: {{body}}',
          '--system',
          'You triage support tickets.',
          '--key',
          'ticket',
          '--schema',
          'schema.json',
          '-o',
          out,
          '--emulator',
          '--json',
        ],
        dir,
      );
    const res = await runTo('tickets.out.csv');
    expect(res.code).toBe(1);
    const csv = parse(readFileSync(join(dir, 'tickets.out.csv')), { columns: true }) as Record<
      string,
      string
    >[];
    expect(csv.map((r) => r.key)).toEqual(['1', '2', '3', '4']);
    expect(Object.keys(csv[0] ?? {})).toContain('output.sentiment');
    expect(csv[0]?.['output.sentiment']).toMatch(/^(positive|negative|neutral)$/);
    expect(csv[2]).toMatchObject({ ok: 'false', error_stage: 'build', error_code: 'GBS_BUILD_FAILED' });
    expect(csv[2]?.error_message).toContain('the row has no column "body"');

    const evs = events(res.stdout);
    expect(evs[0]).toMatchObject({ type: 'start', command: 'run', mode: 'batch', fake: true });
    expect(evs.map((e) => e.type)).toEqual(
      expect.arrayContaining(['chunk-spooled', 'job-created', 'job-state', 'done']),
    );
    const summary = evs.find((e) => e.type === 'summary');
    expect(summary).toMatchObject({ exitCode: 1, fake: true, summary: { rows: 4, succeeded: 3, failed: 1 } });
    expect(summary?.summary.failedByCode).toEqual({ GBS_BUILD_FAILED: 1 });
    // The summary's tokens are the output's usage, summed; the cost is computed from them.
    const usage = { promptTokens: 0, outputTokens: 0 };
    const resJsonl = await runTo('tickets.out.jsonl');
    for (const r of readJsonl(join(dir, 'tickets.out.jsonl'))) {
      usage.promptTokens += r.usage?.promptTokens ?? 0;
      usage.outputTokens += r.usage?.outputTokens ?? 0;
    }
    const again = events(resJsonl.stdout).find((e) => e.type === 'summary');
    expect(again?.summary.usage).toMatchObject(usage);
    expect(summary?.summary.usage).toMatchObject(usage);
    expect(usage.promptTokens).toBeGreaterThan(0);
    const { interactiveUsd, batchUsd } = summary?.cost ?? {};
    expect(batchUsd).toBeCloseTo(interactiveUsd / 2, 12);
    expect(interactiveUsd).toBeCloseTo((usage.promptTokens * 0.3 + usage.outputTokens * 2.5) / 1e6, 12);
  });

  it('a placeholder naming a missing column stops before anything is sent (exit 2)', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(3));
    const emu = await standaloneEmulator(dir);
    const res = await cli(
      [
        'run',
        '--input',
        'reviews.csv',
        '--prompt',
        'Classify: {{review}} {{ rating }}',
        '--emulator-url',
        emu.url,
      ],
      dir,
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('The header of reviews.csv has no column "rating" (--prompt)');
    expect(res.stderr).toContain('its columns are: id, review, product');
    const bad = await cli(
      ['run', '--input', 'reviews.csv', '--prompt', '{{review}}', '--key', 'ID', '--emulator-url', emu.url],
      dir,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no column "ID" (--key)');
    expect((await emu.stats()).calls).toEqual({});
  });

  it('refuses to run without a key or an emulator, naming both (exit 2)', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(3));
    const res = await cli(['run', '--input', 'reviews.csv', '--prompt', '{{review}}'], dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('GEMINI_API_KEY');
    expect(res.stderr).toContain('--emulator');
  });

  it('bad flags: exit 2 with a message naming the flag', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(3));
    const base = ['run', '--input', 'reviews.csv', '--prompt', '{{review}}', '--emulator'];
    const cases: Array<[string[], string]> = [
      [[...base, '--colour'], "Unknown option '--colour'"],
      [[...base, '--limit', 'ten'], '--limit must be a whole number'],
      [[...base, '--max-concurrent-jobs', '0'], '--max-concurrent-jobs must be a whole number from 1 up'],
      [[...base, '--format', 'xml'], '--format must be csv, tsv, ndjson or jsonl'],
      [[...base, '--out', 'x.parquet'], '--out must end in .jsonl, .ndjson or .csv'],
      [[...base, '--schema', 'missing.json'], '--schema: cannot read missing.json'],
      [[...base, '--concurrency', '4'], '--concurrency applies to --online runs only'],
      [[...base, '--emulator-url', 'http://127.0.0.1:1'], '--emulator and --emulator-url'],
      [['run', '--prompt', 'x'], '--input FILE is required'],
      [['run', '--input', 'nope.csv', '--prompt', 'x'], '--input: no such file: nope.csv'],
      [['run', '--input', 'reviews.csv'], '--prompt'],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args, dir)));
    results.forEach((res, i) => {
      expect(res.code, cases[i]?.[1]).toBe(2);
      expect(res.stderr).toContain(cases[i]?.[1]);
    });
  });

  it('--help of every command shows examples and the exit codes', async () => {
    const dir = temp();
    const commands = ['run', 'estimate', 'status', 'cancel'];
    const helps = await Promise.all(commands.map((command) => cli([command, '--help'], dir)));
    for (const [i, command] of commands.entries()) {
      const res = helps[i]!;
      expect(res.code, `${command} --help: ${res.stderr}`).toBe(0);
      expect(res.stdout, `${command} --help`).toContain(`Usage: gemini-batch ${command}`);
      expect(res.stdout).toMatch(/Examples?:/);
      expect(res.stdout).toContain('Exit codes');
    }
    const top = await cli(['--help'], dir);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toContain('estimate');
    expect(top.stdout).toContain('130 stopped by Ctrl-C');
  });
});
