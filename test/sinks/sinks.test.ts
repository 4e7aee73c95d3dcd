// jsonlSink and csvSink: content, the temp-file-and-rename guarantee, Writable targets, columns.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvSink, jsonlSink } from '../../src/index.js';
import type { BatchResult } from '../../src/types.js';
import { parseJsonl, readJsonl, tempDirs } from '../helpers.js';

const temp = tempDirs();

const results: BatchResult[] = [
  {
    key: 'a',
    row: { id: 'a', review: 'good, "really"' },
    ok: true,
    text: 'x',
    output: { sentiment: 'positive', score: 0.9 },
  },
  {
    key: 'b',
    row: { id: 'b', review: 'multi\nline' },
    ok: false,
    error: { stage: 'request', code: 'GBS_BLOCKED', message: 'blocked', line: 3 },
  },
];

async function* failing(items: unknown[]) {
  yield* items;
  throw new Error('upstream broke');
}

describe('jsonlSink', () => {
  it('writes one JSON line per record', async () => {
    const path = join(temp(), 'out.jsonl');
    await pipeline(Readable.from(results), jsonlSink(path));
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(results);
  });

  it('leaves no output (and no temp file) when the pipeline fails', async () => {
    const dir = temp();
    const path = join(dir, 'out.jsonl');
    await expect(pipeline(Readable.from(failing(results)), jsonlSink(path))).rejects.toThrow(
      'upstream broke',
    );
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('only renames over an earlier output once the new one is complete', async () => {
    const path = join(temp(), 'out.jsonl');
    await pipeline(Readable.from(results), jsonlSink(path));
    const before = readFileSync(path, 'utf8');
    await expect(pipeline(Readable.from(failing([results[0]])), jsonlSink(path))).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('creates a missing output folder', async () => {
    const path = join(temp(), 'new', 'deeper', 'out.jsonl');
    await pipeline(Readable.from(results), jsonlSink(path));
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('writes straight into a caller Writable', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await pipeline(Readable.from(results), jsonlSink(sink));
    expect(parseJsonl(Buffer.concat(chunks).toString('utf8'))).toEqual(results);
  });

  it('handles many records (bounded batching, backpressure)', async () => {
    const path = join(temp(), 'many.jsonl');
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      key: String(i),
      ok: true,
      text: 'y'.repeat(50),
    }));
    await pipeline(Readable.from(many), jsonlSink(path));
    const records = readJsonl(path);
    expect(records).toHaveLength(20_000);
    expect(records[19_999]).toEqual(many[19_999]);
  });
});

describe('csvSink', () => {
  it('writes key, input columns, ok, text, output fields and the error by default', async () => {
    const path = join(temp(), 'out.csv');
    await pipeline(Readable.from(results), csvSink(path));
    const rows: Record<string, string>[] = parse(readFileSync(path, 'utf8'), { columns: true });
    expect(rows).toEqual([
      {
        key: 'a',
        id: 'a',
        review: 'good, "really"',
        ok: 'true',
        text: 'x',
        'output.sentiment': 'positive',
        'output.score': '0.9',
        error_stage: '',
        error_code: '',
        error_message: '',
        error_line: '',
      },
      {
        key: 'b',
        id: 'b',
        review: 'multi\nline',
        ok: 'false',
        text: '',
        'output.sentiment': '',
        'output.score': '',
        error_stage: 'request',
        error_code: 'GBS_BLOCKED',
        error_message: 'blocked',
        error_line: '3',
      },
    ]);
  });

  it('takes the default columns from the first result that has input columns', async () => {
    const path = join(temp(), 'out.csv');
    const unreadable: BatchResult = {
      key: '#0',
      row: {},
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', message: 'bad', line: 2 },
    };
    await pipeline(Readable.from([unreadable, ...results]), csvSink(path));
    const rows: Record<string, string>[] = parse(readFileSync(path, 'utf8'), { columns: true });
    expect(rows.map((r: Record<string, string>) => [r.key, r.id, r.error_code])).toEqual([
      ['#0', '', 'GBS_INPUT_PARSE'],
      ['a', 'a', ''],
      ['b', 'b', 'GBS_BLOCKED'],
    ]);
  });

  it('accepts explicit columns: paths and functions, and a delimiter', async () => {
    const path = join(temp(), 'out.csv');
    await pipeline(
      Readable.from(results),
      csvSink(path, {
        delimiter: ';',
        columns: [
          'key',
          'row.review',
          'output.sentiment',
          { header: 'status', value: (r) => (r.ok ? 'OK' : r.error?.code) },
        ],
      }),
    );
    expect(readFileSync(path, 'utf8')).toBe(
      'key;row.review;output.sentiment;status\na;"good, ""really""";positive;OK\nb;"multi\nline";;GBS_BLOCKED\n',
    );
  });

  it('writes only the header for no results with explicit columns, and nothing without', async () => {
    const a = join(temp(), 'a.csv');
    await pipeline(Readable.from([]), csvSink(a, { columns: ['key', 'text'] }));
    expect(readFileSync(a, 'utf8')).toBe('key,text\n');
    const b = join(temp(), 'b.csv');
    await pipeline(Readable.from([]), csvSink(b));
    expect(readFileSync(b, 'utf8')).toBe('');
  });

  it('leaves no output when the pipeline fails', async () => {
    const dir = temp();
    await expect(pipeline(Readable.from(failing(results)), csvSink(join(dir, 'out.csv')))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
