// `gemini-batch run --online` (previews) and `gemini-batch estimate`, spawned as a user runs them;
// the numbers are checked against the emulator's fake tokenizer (one token per 4 characters).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeTokens } from '../../src/emulator/index.js';
import { DEFAULT_PRICES, estimateCost } from '../../src/index.js';
import { readJsonl, tempDirs } from '../helpers.js';
import { cli, events, reviews, standaloneEmulator, writeCsv } from './cli.js';

const temp = tempDirs();
const PROMPT = 'Classify the sentiment of: {{review}}';
const SYSTEM = 'Answer with one word.';

describe('gemini-batch run --online', () => {
  it('previews the first rows with interactive calls; a rerun with more rows sends only the new ones', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', reviews(40));
    const emu = await standaloneEmulator(dir);
    const args = [
      'run',
      '--online',
      '--input',
      'reviews.csv',
      '--prompt',
      PROMPT,
      '--key',
      'id',
      '--emulator-url',
      emu.url,
    ];
    const preview = await cli([...args, '--limit', '20', '--concurrency', '4'], dir);
    expect(preview.stderr).not.toContain('failed:');
    expect(preview.code).toBe(0);
    expect(preview.stderr).toContain('online requests (4 at a time)');
    expect(preview.stderr).toMatch(/rows: 20 read, 20 written, 0 errors/);
    expect(preview.stderr).toMatch(/Cost: \$\S+ at interactive price \(online mode\)/);
    const out = readJsonl(join(dir, 'reviews.out.jsonl'));
    expect(out.map((r) => r.key)).toEqual(reviews(20).map((r) => r.id));
    expect(out.every((r) => r.ok && r.text.startsWith('echo '))).toBe(true);
    expect((await emu.stats()).calls['models.generateContent']).toEqual({ 200: 20 });
    expect((await emu.stats()).batchesCreated).toBe(0);

    const more = await cli([...args, '--limit', '30', '--json'], dir);
    expect(more.code).toBe(0);
    expect((await emu.stats()).calls['models.generateContent']).toEqual({ 200: 30 });
    const summary = events(more.stdout).find((e) => e.type === 'summary');
    expect(summary).toMatchObject({ mode: 'online', summary: { rows: 30, succeeded: 30, jobsCreated: 0 } });
    const rows = events(more.stdout).filter((e) => e.type === 'rows');
    expect(rows.at(-1)).toMatchObject({ read: 30, written: 30, errors: 0 });
  });
});

describe('gemini-batch estimate', () => {
  const rows = reviews(30);
  const tokens = (r: { review: string }) => fakeTokens(`${SYSTEM}Classify the sentiment of: ${r.review}`);
  const exact = rows.reduce((n, r) => n + tokens(r), 0);
  const base = ['estimate', '--input', 'reviews.csv', '--prompt', PROMPT, '--system', SYSTEM, '--json'];

  it('counts input tokens with countTokens (all rows, or a sample scaled by characters) and prices them', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', rows);
    const all = await cli([...base, '--emulator', '--sample', '100', '--output-tokens', '7'], dir);
    expect(all.code).toBe(0);
    const report = JSON.parse(all.stdout);
    expect(report).toMatchObject({
      rows: 30,
      sendable: 30,
      sampled: 30,
      method: 'countTokens',
      inputTokens: exact,
      outputTokens: 7 * 30,
      outputBasis: 'flag',
      fake: true,
    });
    const expected = estimateCost({ promptTokens: exact, outputTokens: 210 }, 'gemini-2.5-flash');
    expect(report.cost).toEqual(expected);
    expect(report.cost.interactiveUsd).toBeCloseTo((exact * 0.3 + 210 * 2.5) / 1e6, 12);
    expect(report.prices.date).toBe(DEFAULT_PRICES.date);

    const sampled = JSON.parse((await cli([...base, '--emulator', '--sample', '10'], dir)).stdout);
    const texts = rows.map((r) => `${SYSTEM}Classify the sentiment of: ${r.review}`);
    const counted = rows.slice(0, 10).reduce((n, r) => n + tokens(r), 0);
    const sampleChars = texts.slice(0, 10).join('').length;
    const chars = texts.join('').length;
    expect(sampled.sampled).toBe(10);
    expect(sampled.inputTokens).toBe(Math.round(counted + ((chars - sampleChars) * counted) / sampleChars));
    expect(sampled.outputBasis).toBe('assumed');
    expect(sampled.outputTokens).toBe(100 * 30);
  });

  it('without a key or an emulator: a stated heuristic; --prices overrides the table; a preview informs output tokens', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', rows);
    const heuristic = await cli(
      base.filter((a) => a !== '--json'),
      dir,
    );
    expect(heuristic.code).toBe(0);
    expect(heuristic.stdout).toContain('heuristic: 4 characters per token');
    expect(heuristic.stdout).toMatch(/Cost: \$\S+ at batch price, \$\S+ at interactive price/);
    expect(heuristic.stdout).toContain(`as of ${DEFAULT_PRICES.date}`);

    writeFileSync(
      join(dir, 'prices.json'),
      JSON.stringify({ date: '2030-01-01', models: { 'gemini-2.5-flash': { input: 1, output: 2 } } }),
    );
    const priced = JSON.parse(
      (await cli([...base, '--prices', 'prices.json', '--output-tokens', '0'], dir)).stdout,
    );
    expect(priced).toMatchObject({ method: 'heuristic', inputTokens: exact });
    expect(priced.cost).toMatchObject({
      interactiveUsd: exact / 1e6,
      batchUsd: exact / 2e6,
      pricesDate: '2030-01-01',
    });

    // A preview (online, first 5 rows) in the same derived state directory sets the output tokens per row.
    const preview = await cli(
      [
        'run',
        '--online',
        '--limit',
        '5',
        '--input',
        'reviews.csv',
        '--prompt',
        PROMPT,
        '--system',
        SYSTEM,
        '--emulator',
        '--json',
      ],
      dir,
    );
    expect(preview.code).toBe(0);
    const answered = events(preview.stdout).find((e) => e.type === 'summary')?.summary.usage.outputTokens;
    const informed = JSON.parse((await cli([...base, '--emulator'], dir)).stdout);
    expect(informed.outputBasis).toBe('preview');
    expect(informed.outputTokensPerRow).toBeCloseTo(answered / 5, 9);

    const bad = await cli([...base, '--prices', 'nope.json'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--prices');
  });

  it('tries countTokens again after a 429 (waiting out Retry-After) and stops at once, with the API error, on a 400', async () => {
    const dir = temp();
    writeCsv(dir, 'reviews.csv', rows.slice(0, 3));
    const faults = {
      http: [
        { route: 'models.countTokens', nth: 1, action: { type: 'error', status: 429, retryAfterSeconds: 2 } },
        {
          route: 'models.countTokens',
          nth: 5,
          action: { type: 'error', status: 400, message: 'Request contains an invalid argument.' },
        },
      ],
    };
    const emu = await standaloneEmulator(dir, ['--faults', JSON.stringify(faults)]);
    const args = [...base.filter((a) => a !== '--json'), '--emulator-url', emu.url, '--sample', '3'];
    const started = Date.now();
    const ok = await cli([...args, '--json'], dir);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000); // the Retry-After, not a shorter backoff
    expect(JSON.parse(ok.stdout)).toMatchObject({
      method: 'countTokens',
      inputTokens: rows.slice(0, 3).reduce((n, r) => n + tokens(r), 0),
    });
    // The first call's 429 was tried again once; three answers. The next run's first call gets the 400.
    expect((await emu.stats()).calls['models.countTokens']).toEqual({ 200: 3, 429: 1 });

    const failed = await cli(args, dir);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('GBS_API_ERROR');
    expect(failed.stderr).toContain(
      'models.countTokens failed: 400 INVALID_ARGUMENT Request contains an invalid argument.',
    );
    // A 400 is not tried again: one call failed, the other two rows' counts were asked once each.
    expect((await emu.stats()).calls['models.countTokens']).toEqual({ 200: 5, 400: 1, 429: 1 });
  });
});
