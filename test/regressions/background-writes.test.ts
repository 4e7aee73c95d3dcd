// Regressions: writes that happen in the background, with nothing awaiting them.
// - FileWriter hands a full buffer to the disk and awaits it only at the next slow write or at
//   close: a failed write (disk full) was an unhandled rejection, which ends the process, instead
//   of failing the caller's stream.
// - geminiOnline's answers were flushed only from the next append: with a stalled source, answers
//   stayed unflushed indefinitely (lost, and paid again, on a SIGKILL), not "every second".

import { readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BatchResult, csvSink, geminiOnline, jsonlSink, toRequests } from '../../src/index.js';
import { AnswerStore } from '../../src/state/online-answers.js';
import { FileWriter } from '../../src/util/file-writer.js';
import { emulators, readJsonl, tempDirs, until } from '../helpers.js';
import { collect } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linuxOnly = process.platform !== 'linux';

// Unhandled rejections during a test (Node would end the process on one outside vitest).
let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** More text than FileWriter's 256 KiB buffer, in lines. */
const LINE = `${'x'.repeat(1023)}\n`;
const LINES = 300;

describe('FileWriter on a full disk', () => {
  async function fillPastBuffer(writer: FileWriter): Promise<void> {
    for (let i = 0; i < LINES; i++) await writer.write(LINE);
  }

  it.skipIf(linuxOnly)(
    'keeps a failed background write and fails the next write with it (Linux only: /dev/full)',
    async () => {
      const writer = new FileWriter('/dev/full');
      await fillPastBuffer(writer); // the first buffer went to the disk in the background
      await sleep(100); // nothing awaits that write while it fails
      expect(unhandled).toEqual([]);
      await expect(writer.write('more\n')).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(writer.close()).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(unhandled).toEqual([]);
    },
  );

  it.skipIf(linuxOnly)(
    'fails close with the background write error when no write comes (Linux only: /dev/full)',
    async () => {
      const writer = new FileWriter('/dev/full');
      await fillPastBuffer(writer);
      await sleep(100);
      expect(unhandled).toEqual([]);
      await expect(writer.close()).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(writer.close()).resolves.toBeUndefined(); // closed (given up) once
      expect(unhandled).toEqual([]);
    },
  );
});

describe('sinks on a full disk', () => {
  // A sink writes to a temp file beside its target (`.NAME.PID.tmp`) and renames it into place at
  // the end, so the target itself cannot be /dev/full; the temp path is made a link to it instead.
  it.skipIf(linuxOnly).each([
    ['jsonlSink', (path: string) => jsonlSink(path)],
    ['csvSink', (path: string) => csvSink(path)],
  ] as const)('%s fails the pipeline with ENOSPC, no crash (Linux only: /dev/full)', async (_name, sink) => {
    const dir = temp();
    const target = join(dir, 'out.txt');
    symlinkSync('/dev/full', join(dir, `.out.txt.${process.pid}.tmp`));
    async function* results() {
      for (let i = 0; i < LINES; i++) yield { key: `k${i}`, ok: true, row: { id: i }, text: LINE };
      // A stalled source: the first buffer fails on the disk while nothing is waiting for it.
      await sleep(200);
      for (let i = LINES; i < LINES + 10; i++) yield { key: `k${i}`, ok: true, row: { id: i }, text: 'late' };
    }
    await expect(pipeline(Readable.from(results()), sink(target))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(unhandled).toEqual([]);
    // The link (the temp file) was removed, and no output was renamed into place.
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('online answers with a stalled source', () => {
  it('are on disk within about a second, before the source goes on', async () => {
    const emu = await start();
    const stateDir = temp();
    const source = new Readable({ objectMode: true, read() {} });
    for (let i = 0; i < 3; i++) source.push({ id: `r${i}`, text: `prompt ${i}` });
    const results: BatchResult<any, any>[] = [];
    const run = pipeline(
      source,
      toRequests((row: any) => row.text, { key: (row: any) => row.id }),
      geminiOnline({
        client: new GoogleGenAI(emu.clientOptions()),
        model: 'gemini-2.5-flash',
        concurrency: 2,
        stateDir,
      }),
      collect(results),
    );
    run.catch(() => undefined); // awaited below
    const answersOnDisk = () => {
      const dir = join(stateDir, 'online');
      const files = readdirSync(dir).filter((n) => /^answers-\d+\.jsonl$/.test(n));
      expect(files).toHaveLength(1);
      return readJsonl(join(dir, files[0] as string));
    };

    await until(async () => results.length === 3);
    await sleep(1500); // the source stalls: no more rows, so no more appends
    expect(answersOnDisk().map((r) => r.k)).toEqual(['r0', 'r1', 'r2']);

    source.push({ id: 'r3', text: 'prompt 3' });
    source.push(null);
    await run;
    expect(results.map((r) => r.key)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(answersOnDisk().map((r) => r.k)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(unhandled).toEqual([]);
  });

  it("keeps a timer flush's error for the next append and close, not as an unhandled rejection", async () => {
    const stateDir = temp();
    const store = await AnswerStore.open(stateDir);
    const failure = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    // The disk fails under the store (its file handle is private: reached here on purpose).
    const file = (store as unknown as { file: { sync: () => Promise<void> } }).file;
    file.sync = () => Promise.reject(failure);
    await store.append({ k: 'a', h: 'h', response: {} });
    await sleep(1300); // the timer flushes, and fails, while nothing awaits it
    expect(unhandled).toEqual([]);
    await expect(store.append({ k: 'b', h: 'h', response: {} })).rejects.toBe(failure);
    await expect(store.close()).rejects.toBe(failure);
    expect(unhandled).toEqual([]);
    // The lock was released: the state directory can be opened again.
    const again = await AnswerStore.open(stateDir);
    await again.close();
  });
});
