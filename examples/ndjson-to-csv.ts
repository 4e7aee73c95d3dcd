// NDJSON in, CSV out (csvSink): a line that is not valid JSON does not stop the run; it comes
// out as an error row (error_code GBS_INPUT_PARSE, with its line) among the answered rows.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { parse } from 'csv-parse/sync';
import { csvSink, geminiBatch, ndjsonSource, toRequests } from 'gemini-batch-stream';
import { startEmulator } from 'gemini-batch-stream/emulator';

type Ticket = { ticketId: number; subject: string; body: string };

const dir = mkdtempSync(join(tmpdir(), 'gbs-example-'));
const input = join(dir, 'tickets.ndjson');
const output = join(dir, 'tickets.out.csv');
const BAD_LINE = 6;
const lines = Array.from({ length: 12 }, (_, i) =>
  JSON.stringify({
    ticketId: 100 + i,
    subject: `Order #${5000 + i}, "urgent"`,
    body: `My parcel ${i} has not arrived, and tracking says "delivered".`,
  }),
);
lines[BAD_LINE - 1] = '{"ticketId": 105, "subject": "cut off mid-line'; // not valid JSON
writeFileSync(input, `${lines.join('\n')}\n`);

const emulator = await startEmulator();
try {
  await pipeline(
    ndjsonSource(input),
    toRequests<Ticket>((t) => `Summarise this support ticket in one line.\n${t.subject}\n${t.body}`, {
      key: (t) => `T${t.ticketId}`,
    }),
    geminiBatch({
      client: new GoogleGenAI(emulator.clientOptions()),
      model: 'gemini-2.5-flash',
      stateDir: join(dir, 'state'),
      pollIntervalMs: 10,
    }),
    // Default columns: key, the input's columns, ok, text, output, error_stage, error_code, error_message.
    csvSink(output),
  );

  const rows = parse(readFileSync(output), { columns: true }) as Array<Record<string, string>>;
  assert.equal(rows.length, lines.length, 'one CSV row per input line');
  const failed = rows.filter((r) => r.ok !== 'true');
  assert.equal(failed.length, 1, 'only the broken line fails');
  const bad = failed[0]!;
  assert.equal(bad.error_stage, 'read');
  assert.equal(bad.error_code, 'GBS_INPUT_PARSE');
  assert.match(bad.error_message!, /invalid JSON/);
  assert.equal(rows.indexOf(bad), BAD_LINE - 1, 'the error row keeps its place');
  for (const r of rows.filter((r) => r.ok === 'true')) {
    assert.match(r.key!, /^T1\d\d$/);
    assert.match(r.text!, /^echo [0-9a-f]{8}: Summarise this support ticket/);
    assert.equal(r.error_code, '');
  }
  assert.equal(rows[0]!.subject, 'Order #5000, "urgent"', 'commas and quotes survive the CSV round trip');
  console.log(`ok: ${rows.length - 1} tickets answered, line ${BAD_LINE} reported as GBS_INPUT_PARSE`);
} finally {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
