// Bad input from the user's side (gemini-batch-faults.md, "Bad input"), end to end from a file:
// csvSource / ndjsonSource → toRequests → geminiBatch → jsonlSink. Every unreadable or invalid
// record comes out as one error record with its exact input line; nothing is lost (I1); duplicate
// keys stop the run before any job is created for the chunk holding the second one.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Emulator } from '../../src/emulator/index.js';
import {
  type BatchResult,
  csvSource,
  GbsError,
  type GeminiBatchOptions,
  geminiBatch,
  jsonlSink,
  ndjsonSource,
  type RequestBuilder,
  type ToRequestsOptions,
  toRequests,
} from '../../src/index.js';
import { emulators, readJsonl, tempDirs } from '../helpers.js';
import { checkInvariants, FAST, jobsByChunk } from './invariants.js';

const start = emulators();
const temp = tempDirs();

interface Run {
  dir: string;
  stateDir: string;
  out: string;
}

function files(input: string | Buffer, name: string): Run & { input: string } {
  const dir = temp();
  const path = join(dir, name);
  writeFileSync(path, input);
  return { dir, input: path, stateDir: join(dir, 'state'), out: join(dir, 'out.jsonl') };
}

async function runFile(
  emu: Emulator,
  run: Run,
  source: Readable,
  build: RequestBuilder<any>,
  requestOptions: ToRequestsOptions<any>,
  options: Partial<GeminiBatchOptions> = {},
): Promise<BatchResult<any>[]> {
  await pipeline(
    source,
    toRequests(build, requestOptions),
    geminiBatch({
      client: new GoogleGenAI(emu.clientOptions()),
      model: 'gemini-2.5-flash',
      stateDir: run.stateDir,
      ...FAST,
      ...options,
    }),
    jsonlSink(run.out),
  );
  return readJsonl<BatchResult<any>>(run.out);
}

const byId = { key: (row: { id: string }) => row.id };
const textPrompt = (row: { text: string }) => `Classify: ${row.text}`;

/** The numbers a message names as `line N`. */
const linesNamed = (message: string | undefined) =>
  [...(message ?? '').matchAll(/line (\d+)/g)].map((m) => Number(m[1]));

describe('bad input, end to end', () => {
  it('CSV with a BOM, CRLF, a multi-line field, a ragged row and bytes that are not UTF-8: error records at the exact lines, the rest answered', async () => {
    const emu = await start();
    const csv = Buffer.concat([
      Buffer.from('\uFEFFid,text\r\n'), // 1
      Buffer.from('a1,hello\r\n'), // 2
      Buffer.from('a2,"multi\r\nline"\r\n'), // 3–4
      Buffer.from('a3,ragged,extra\r\n'), // 5
      Buffer.from('a4,'),
      Buffer.from([0xff, 0xfe, 0x41]),
      Buffer.from('\r\n'), // 6
      Buffer.from('a5,fine\r\n'), // 7
      Buffer.from('a6\r\n'), // 8: too few fields
      Buffer.from('a7,last\r\n'), // 9
    ]);
    const run = files(csv, 'in.csv');
    const results = await runFile(emu, run, csvSource(run.input), textPrompt, byId);
    checkInvariants({
      emu,
      stateDir: run.stateDir,
      keys: ['a1', 'a2', '#2', '#3', 'a5', '#5', 'a7'],
      results,
      maxJobsPerChunk: 1,
    });
    expect(results[0]).toMatchObject({ key: 'a1', ok: true, row: { id: 'a1', text: 'hello' } });
    expect(results[1]).toMatchObject({ key: 'a2', ok: true, row: { id: 'a2', text: 'multi\r\nline' } });
    expect(results[2]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 5 },
    });
    expect(results[2]?.error?.message).toMatch(/Invalid Record Length/);
    // The message must not send the reader to another line than the record's (line 6 is a4).
    expect(
      linesNamed(results[2]?.error?.message).every((n) => n === 5),
      results[2]?.error?.message,
    ).toBe(true);
    expect(results[3]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 6 },
    });
    expect(results[3]?.error?.message).toMatch(/UTF-8/);
    expect(results[4]).toMatchObject({ key: 'a5', ok: true });
    expect(results[5]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 8 },
    });
    expect(results[6]).toMatchObject({ key: 'a7', ok: true, row: { id: 'a7', text: 'last' } });
    expect(emu.stats().batches.map((b) => b.requestCount)).toEqual([4]);
  });

  it('CSV with a stray quote and a quote never closed: error records at the exact lines, naming the lines swallowed', async () => {
    const emu = await start();
    const run = files(
      ['id,text', 'b1,ok', 'b2,bro"ken', 'b3,after', 'b4,"never closed', 'b5,swallowed', ''].join('\n'),
      'in.csv',
    );
    const results = await runFile(emu, run, csvSource(run.input), textPrompt, byId);
    checkInvariants({
      emu,
      stateDir: run.stateDir,
      keys: ['b1', '#1', 'b3', '#3'],
      results,
      maxJobsPerChunk: 1,
    });
    expect(results[0]).toMatchObject({ key: 'b1', ok: true });
    expect(results[1]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 3 },
    });
    expect(results[1]?.error?.message).toMatch(/quote/i);
    expect(results[2]).toMatchObject({ key: 'b3', ok: true });
    expect(results[3]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 5 },
    });
    // The record that ran to the end of the file took line 6 (b5) with it, and says so.
    expect(results[3]?.error?.message).toContain('lines 5–6');
  });

  it('NDJSON with an invalid line, a line that is not an object, a blank line, CRLF and bytes that are not UTF-8', async () => {
    const emu = await start();
    const run = files(
      Buffer.concat([
        Buffer.from('{"id":"n1","text":"one"}\r\n'), // 1
        Buffer.from('{"id":"n2","text":\r\n'), // 2
        Buffer.from('\r\n'), // 3
        Buffer.from('["n4"]\r\n'), // 4
        Buffer.from('{"id":"n5","text":"five"}\r\n'), // 5
        Buffer.from('{"id":"n6","text":"'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}\r\n'), // 6
        Buffer.from('{"id":"n7","text":"seven"}'), // 7, no line end
      ]),
      'in.ndjson',
    );
    const results = await runFile(emu, run, ndjsonSource(run.input), textPrompt, byId);
    checkInvariants({
      emu,
      stateDir: run.stateDir,
      keys: ['n1', '#1', '#2', 'n5', '#4', 'n7'],
      results,
      maxJobsPerChunk: 1,
    });
    expect(results.filter((r) => r.ok).map((r) => r.key)).toEqual(['n1', 'n5', 'n7']);
    expect(results[1]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 2 },
    });
    expect(results[1]?.error?.message).toMatch(/invalid JSON/);
    expect(results[2]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 4 },
    });
    expect(results[2]?.error?.message).toMatch(/array/);
    expect(results[4]).toMatchObject({
      ok: false,
      error: { stage: 'read', code: 'GBS_INPUT_PARSE', line: 6 },
    });
    expect(results[4]?.error?.message).toMatch(/UTF-8/);
  });

  it('rows failing the zod rowSchema, an empty key, a key that is not a string, a builder that throws: error records at the exact lines', async () => {
    const emu = await start();
    const lines = [
      { id: 'r1', n: '1', text: 'fine' }, // 1
      { id: 'r2', n: 'not a number', text: 'bad n' }, // 2: rowSchema
      { id: 'r3', text: 'no n' }, // 3: rowSchema
      { id: '', n: '4', text: 'empty key' }, // 4: empty key
      { id: 'r5', n: '5', text: 'THROW' }, // 5: builder throws
      { id: 'r6', n: '6', text: 'fine too' }, // 6
      { id: 'r7', n: '7', text: 'object key', key: { a: 1 } }, // 7: key not a string
    ];
    const run = files(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`, 'in.ndjson');
    const schema = z.looseObject({ id: z.string(), n: z.coerce.number().int(), text: z.string() });
    type R = z.infer<typeof schema> & { key?: unknown };
    const results = await runFile(
      emu,
      run,
      ndjsonSource(run.input),
      (row: R) => {
        if (row.text === 'THROW') throw new Error('no prompt for this row');
        return `Classify: ${row.text}`;
      },
      { rowSchema: schema, key: (row: R) => row.key ?? row.id },
    );
    checkInvariants({
      emu,
      stateDir: run.stateDir,
      keys: ['r1', 'r2', 'r3', '#3', 'r5', 'r6', '#6'],
      results,
      maxJobsPerChunk: 1,
    });
    expect(results[0]).toMatchObject({ ok: true, row: { id: 'r1', n: 1 } });
    expect(results[1]).toMatchObject({
      ok: false,
      error: { stage: 'validate', code: 'GBS_ROW_INVALID', line: 2 },
    });
    expect(results[1]?.error?.message).toMatch(/\bn\b/);
    expect(results[2]).toMatchObject({
      ok: false,
      error: { stage: 'validate', code: 'GBS_ROW_INVALID', line: 3 },
    });
    expect(results[3]).toMatchObject({
      ok: false,
      error: { stage: 'validate', code: 'GBS_EMPTY_KEY', line: 4 },
    });
    expect(results[4]).toMatchObject({
      ok: false,
      error: { stage: 'build', code: 'GBS_BUILD_FAILED', line: 5 },
    });
    expect(results[4]?.error?.message).toContain('no prompt for this row');
    expect(results[5]).toMatchObject({ ok: true, row: { id: 'r6', n: 6 } });
    expect(results[6]).toMatchObject({
      ok: false,
      error: { stage: 'validate', code: 'GBS_EMPTY_KEY', line: 7 },
    });
    // Only the two good rows were sent.
    expect(emu.stats().batches.map((b) => b.requestCount)).toEqual([2]);
  });

  it('a key function returning duplicate keys: GBS_DUPLICATE_KEY naming the key and both lines, before any job is created for the chunk holding the second', async () => {
    const emu = await start();
    // Across chunks: line 8 repeats line 2's key; chunks are 3 rows, so the second one is in chunk 2.
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd2', 'd9'];
    const across = files(
      `${ids.map((id) => JSON.stringify({ id, text: `text ${id}` })).join('\n')}\n`,
      'in.ndjson',
    );
    const err = await runFile(emu, across, ndjsonSource(across.input), textPrompt, byId, {
      maxRequestsPerJob: 3,
      maxConcurrentJobs: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect(err).toMatchObject({ code: 'GBS_DUPLICATE_KEY', key: 'd2', line: 8, chunk: 2 });
    expect((err as GbsError).message).toContain('input lines 2 and 8');
    expect(jobsByChunk(emu, across.stateDir).has(2)).toBe(false);
    expect(existsSync(across.out)).toBe(false);

    // Within a chunk: no job at all.
    const created = emu.stats().batchesCreated;
    const within = files(
      '{"id":"x","text":"a"}\n{"id":"y","text":"b"}\n{"id":"x","text":"c"}\n',
      'in.ndjson',
    );
    const err2 = await runFile(emu, within, ndjsonSource(within.input), textPrompt, byId).catch(
      (e: unknown) => e,
    );
    expect(err2).toMatchObject({ code: 'GBS_DUPLICATE_KEY', key: 'x', line: 3, chunk: 0 });
    expect((err2 as GbsError).message).toContain('input lines 1 and 3');
    expect(emu.stats().batchesCreated).toBe(created);
    expect(existsSync(within.out)).toBe(false);
  });
});
