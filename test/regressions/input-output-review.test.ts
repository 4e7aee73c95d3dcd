// Regressions found by a review of the sources, toRequests and the sinks:
// - a CSV row with several stray quotes became several error records (csv-parse reports each);
// - a header naming a column twice lost one column's values without a word;
// - NDJSON integers beyond 2^53 (64-bit ids) were rounded to a neighbour;
// - a rowSchema or outputSchema transform that throws crashed the process (zod does not catch it);
// - an outputSchema with a transform could not be used at all (zod's output view cannot show it);
// - a csvSink column that throws crashed the process and left its temp file;
// - csvSink's default header repeated `text` (and others) when the input had such a column;
// - a file: URL with a space was written to its percent-encoded path.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type BatchItem,
  type BatchResult,
  csvSink,
  csvSource,
  GbsError,
  jsonlSink,
  ndjsonSource,
  ROW_ERROR,
  rowLine,
  toRequests,
} from '../../src/index.js';
import { FAST } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { collect, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

async function rowsOf(
  source: AsyncIterable<any>,
): Promise<Array<{ line?: number; error?: string; row?: object }>> {
  const out: Array<{ line?: number; error?: string; row?: object }> = [];
  for await (const r of source) {
    const error = r[ROW_ERROR];
    out.push(
      error
        ? { line: rowLine(r), error: error.message }
        : { line: rowLine(r), row: JSON.parse(JSON.stringify(r)) },
    );
  }
  return out;
}

const result = (key: string, row: object, extra: Partial<BatchResult> = {}): BatchResult =>
  ({ key, row, ok: true, text: 'answer', ...extra }) as BatchResult;

describe('sources', () => {
  it('one error record per CSV row, whatever number of stray quotes it holds, at its own line', async () => {
    const path = join(temp(), 'q.csv');
    writeFileSync(path, 'id,text\n1,a\n2,x "b" "c" d\n3,c\n4,he said "hi" ok\n5,e\n');
    const rows = await rowsOf(csvSource(path));
    expect(rows.map((r) => [r.line, r.error ? 'error' : (r.row as { id: string }).id])).toEqual([
      [2, '1'],
      [3, 'error'],
      [4, '3'],
      [5, 'error'],
      [6, '5'],
    ]);
  });

  it('refuses a CSV header that names a column twice, naming it', async () => {
    const path = join(temp(), 'dup.csv');
    writeFileSync(path, 'id,name,name\n1,a,b\n');
    const err = await rowsOf(csvSource(path)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect(err).toMatchObject({ code: 'GBS_INPUT_PARSE', line: 1 });
    expect((err as Error).message).toContain('"name" twice (columns 2 and 3)');
    // Explicit columns are the way out.
    const renamed = await rowsOf(csvSource(path, { columns: ['id', 'first', 'second'], from_line: 2 }));
    expect(renamed.map((r) => r.row)).toEqual([{ id: '1', first: 'a', second: 'b' }]);
  });

  it('keeps NDJSON integers beyond 2^53 exactly, as strings of their digits', async () => {
    const text = '{"id":1234567890123456789,"n":5}\n{"id":1234567890123456790,"s":"1234567890123456789"}\n';
    const rows = await rowsOf(ndjsonSource(Readable.from([Buffer.from(text)])));
    expect(rows.map((r) => r.row)).toEqual([
      { id: '1234567890123456789', n: 5 },
      { id: '1234567890123456790', s: '1234567890123456789' },
    ]);
  });
});

describe('schemas that throw', () => {
  it('a rowSchema transform that throws makes that row an error record; the others go on', async () => {
    const items: BatchItem[] = [];
    await pipeline(
      Readable.from([
        { id: 'a', meta: '{"x":1}' },
        { id: 'b', meta: 'not json' },
      ]),
      toRequests((row: { id: string; meta: unknown }) => `meta ${JSON.stringify(row.meta)}`, {
        key: (row) => row.id,
        rowSchema: z.object({ id: z.string(), meta: z.string().transform((s) => JSON.parse(s) as unknown) }),
      }),
      collect(items),
    );
    expect(items.map((i) => [i.key, i.error?.code])).toEqual([
      ['a', undefined],
      ['b', 'GBS_ROW_INVALID'],
    ]);
    expect(items[1]?.error?.message).toContain('rowSchema threw on this row');
  });

  it('an outputSchema with transforms is sent as its input view; one that throws makes an error record', async () => {
    const emu = await start();
    const run = async (outputSchema: z.ZodType) => {
      const { results } = await runRows(
        emu,
        [{ id: 'a' }, { id: 'b' }],
        (row: { id: string }) => `tags for ${row.id}`,
        { stateDir: temp(), outputSchema, ...FAST },
        { key: (row: { id: string }) => row.id },
      );
      return results;
    };
    const split = await run(z.object({ tags: z.string().transform((s) => s.split(' ')) }));
    expect(split.map((r) => r.key)).toEqual(['a', 'b']);
    expect(split.every((r) => r.ok && Array.isArray((r.output as { tags: unknown }).tags))).toBe(true);
    const thrown = await run(
      z.object({
        tags: z.string().transform(() => {
          throw new Error('no tags today');
        }),
      }),
    );
    expect(thrown.map((r) => r.key)).toEqual(['a', 'b']);
    for (const r of thrown) {
      expect(r.ok).toBe(false);
      expect(r.error).toMatchObject({ stage: 'parse', code: 'GBS_OUTPUT_SCHEMA' });
      expect(r.error?.message).toContain('no tags today');
    }
  });
});

describe('sinks', () => {
  it('a csvSink column that throws fails the pipeline, naming the column, and leaves no file', async () => {
    const dir = temp();
    const path = join(dir, 'out.csv');
    const err = await pipeline(
      Readable.from([result('k1', { id: '1' }), result('k2', { id: '2' }, { ok: false, text: undefined })]),
      csvSink(path, {
        columns: ['key', { header: 'len', value: (r) => (r.text as string).length }],
      }),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('the column "len" failed on the result for key "k2"');
    expect(readdirSync(dir)).toEqual([]);
  });

  it("heads input columns that share a result column's name as row.<name>", async () => {
    const path = join(temp(), 'out.csv');
    await pipeline(Readable.from([result('k1', { id: '1', text: 'the input', ok: 'yes' })]), csvSink(path));
    const [header, line] = readFileSync(path, 'utf8').trim().split('\n');
    expect(header).toBe(
      'key,id,row.text,row.ok,ok,text,output,error_stage,error_code,error_message,error_line',
    );
    expect(line).toBe('k1,1,the input,yes,true,answer,,,,,');
  });

  it('writes to the path a file: URL names, spaces and accents decoded', async () => {
    const dir = join(temp(), 'a folder');
    const url = pathToFileURL(join(dir, 'résultat.jsonl'));
    await pipeline(Readable.from([result('k1', { id: '1' })]), jsonlSink(url));
    expect(existsSync(join(dir, 'résultat.jsonl'))).toBe(true);
  });
});
