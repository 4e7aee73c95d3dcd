// The floor: the least local work any client must do for the benchmark's job, written plainly
// with the same libraries and no stages, no state, no hashing, no key index. Run as a child process
// (compiled to plain JS by the harness), one phase per process:
//
//   --phase write   csv-parse → request JSON line → requests.jsonl; row JSON line → rows.jsonl
//   --phase answer  (not measured) requests.jsonl → results.jsonl, answered by the emulator's own
//                   fake model (`fakeGenerateContent`) and written in the emulator's result-line
//                   format (`{"response":…,"key":…}`), so the file has the same bytes the
//                   emulator produces for the pipeline (run.ts checks this by hash)
//   --phase read    results.jsonl + rows.jsonl → JSON.parse each → output record → output.jsonl
//
// Why the results are made here and not taken from the pipeline's run: the floor then needs no
// pipeline run before it, and the emulator's work stays out of every measured process. Why a rows
// spool: the output record carries the input row (as the pipeline's does: `{key, row, ok, text,
// usage}`, byte-identical), and in constant memory the cheapest way to get a row back to its
// answer is one JSON line out and one JSON.parse back. The floor may read the answers in input
// order (the emulator keeps it); the real API does not promise that, which is why the pipeline
// needs its key index and positional reads. `--no-rows` drops the row from both halves (the issue's
// literal floor: request lines out, results in, output records without the row); `--results`
// reads the answers from another directory's results.jsonl.

import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import {
  childArgs,
  LineReader,
  MODEL,
  prompt,
  required,
  restRequest,
  startMeasure,
  TextWriter,
} from './common.js';

const args = childArgs();
const phase = required(args, 'phase');
const dir = required(args, 'dir');
const withRows = args.get('no-rows') !== 'true';
const requestsPath = join(dir, 'requests.jsonl');
const rowsPath = join(dir, 'rows.jsonl');
const resultsPath = args.get('results') ?? join(dir, 'results.jsonl');
const outputPath = join(dir, 'output.jsonl');

async function writePhase(): Promise<void> {
  const measure = startMeasure('floor-write');
  const csv = required(args, 'csv');
  const parser = createReadStream(csv).pipe(parse({ columns: true, bom: true, skip_empty_lines: true }));
  const requests = new TextWriter(requestsPath);
  const rows = withRows ? new TextWriter(rowsPath) : undefined;
  let n = 0;
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    const w1 = requests.write(`${JSON.stringify({ key: row.id, request: restRequest(prompt(row)) })}\n`);
    if (w1) await w1;
    if (rows) {
      const w2 = rows.write(`${JSON.stringify(row)}\n`);
      if (w2) await w2;
    }
    n++;
  }
  await Promise.all([requests.close(), rows?.close()]);
  measure.done(n, { requestsBytes: requests.bytes, rowsBytes: rows?.bytes ?? 0 });
}

async function answerPhase(): Promise<void> {
  // Loaded here only, so the measured phases load nothing of the library.
  const { fakeGenerateContent } = await import('../src/emulator/fake-model.js');
  const measure = startMeasure('floor-answer');
  const input = new LineReader(requestsPath);
  const out = new TextWriter(resultsPath);
  const model = `models/${MODEL}`;
  let n = 0;
  for (;;) {
    const line = input.next();
    if (line === undefined) {
      if (await input.fill()) continue;
      break;
    }
    // As the emulator's runner does for a valid line: the answer, then `key` after it.
    const { key, request } = JSON.parse(line) as { key: string; request: Record<string, unknown> };
    const outcome = fakeGenerateContent(model, request);
    const w = out.write(`${JSON.stringify({ ...outcome, key })}\n`);
    if (w) await w;
    n++;
  }
  await out.close();
  measure.done(n, { resultsBytes: out.bytes });
}

interface ResultLine {
  key: string;
  response: {
    candidates: Array<{ content?: { parts?: Array<{ text?: string }> }; finishReason?: string }>;
    usageMetadata?: Record<string, number>;
  };
}

async function readPhase(): Promise<void> {
  const measure = startMeasure('floor-read');
  const results = new LineReader(resultsPath);
  const rows = withRows ? new LineReader(rowsPath) : undefined;
  const out = new TextWriter(outputPath);
  let n = 0;
  for (;;) {
    const line = results.next();
    if (line === undefined) {
      if (await results.fill()) continue;
      break;
    }
    const result = JSON.parse(line) as ResultLine;
    let row: unknown;
    if (rows) {
      let rowText = rows.next();
      while (rowText === undefined && (await rows.fill())) rowText = rows.next();
      if (rowText === undefined) throw new Error('rows.jsonl ended before results.jsonl');
      row = JSON.parse(rowText);
      if ((row as { id?: string }).id !== result.key) {
        throw new Error(`answers out of order at line ${n + 1}: ${result.key}`);
      }
    }
    const parts = result.response.candidates[0]?.content?.parts ?? [];
    let text = '';
    for (const p of parts) if (typeof p.text === 'string') text += p.text;
    const u = result.response.usageMetadata ?? {};
    const promptTokens = u.promptTokenCount ?? 0;
    const outputTokens = u.candidatesTokenCount ?? 0;
    const thoughtsTokens = u.thoughtsTokenCount ?? 0;
    // The same record, field for field, as the pipeline's BatchResult of a success.
    const record = {
      key: result.key,
      ...(rows ? { row } : {}),
      ok: true,
      text,
      usage: {
        promptTokens,
        outputTokens,
        thoughtsTokens,
        cachedTokens: u.cachedContentTokenCount ?? 0,
        totalTokens: u.totalTokenCount ?? promptTokens + outputTokens + thoughtsTokens,
      },
    };
    const w = out.write(`${JSON.stringify(record)}\n`);
    if (w) await w;
    n++;
  }
  await out.close();
  measure.done(n, { outputBytes: out.bytes });
}

if (phase === 'write') await writePhase();
else if (phase === 'answer') await answerPhase();
else if (phase === 'read') await readPhase();
else throw new Error(`unknown --phase ${phase}`);
