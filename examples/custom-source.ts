// Any Readable of objects is a source: here `Readable.from` over an async generator that pages
// through a (simulated) database cursor, with a custom key built from the row's primary key.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GoogleGenAI } from '@google/genai';
import { type BatchResult, geminiBatch, toRequests } from 'gemini-batch-stream';
import { startEmulator } from 'gemini-batch-stream/emulator';

interface Customer {
  customerId: number;
  name: string;
  lastOrder: string;
}

const TOTAL = 250;
const PAGE = 40;

/** Stands in for `SELECT … ORDER BY customer_id LIMIT $1 OFFSET $2`, one page per round trip. */
async function* customers(): AsyncGenerator<Customer> {
  for (let offset = 0; offset < TOTAL; offset += PAGE) {
    await sleep(5); // the database round trip
    for (let id = offset + 1; id <= Math.min(offset + PAGE, TOTAL); id++) {
      yield { customerId: id, name: `Customer ${id}`, lastOrder: id % 3 === 0 ? 'a kettle' : 'headphones' };
    }
  }
}

const prompt = (c: Customer) => `Write a one-line thank-you note to ${c.name} for buying ${c.lastOrder}.`;

const dir = mkdtempSync(join(tmpdir(), 'gbs-example-'));
const emulator = await startEmulator();
const results: Array<BatchResult<Customer>> = [];
try {
  await pipeline(
    Readable.from(customers()),
    toRequests<Customer>(prompt, { key: (c) => `customer-${c.customerId}` }),
    geminiBatch({
      client: new GoogleGenAI(emulator.clientOptions()),
      model: 'gemini-2.5-flash',
      stateDir: join(dir, 'state'),
      maxRequestsPerJob: 100,
      pollIntervalMs: 10,
    }),
    // Any Writable is a sink: collect the results (a real script would write them back to the DB).
    new Writable({
      objectMode: true,
      write(result: BatchResult<Customer>, _encoding, callback) {
        results.push(result);
        callback();
      },
    }),
  );

  assert.equal(results.length, TOTAL);
  for (const [i, r] of results.entries()) {
    assert.equal(r.key, `customer-${i + 1}`);
    assert.equal(r.row.customerId, i + 1, 'the original row travels with its answer');
    assert.equal(r.ok, true);
    // The emulator's fake model answers `echo <8 hex>: <the first 200 characters of the prompt>`.
    assert.match(r.text!, /^echo [0-9a-f]{8}: /);
    assert.ok(r.text!.includes(prompt(r.row)), `answer of ${r.key} contains its prompt`);
  }
  console.log(`ok: ${results.length} rows from an async generator, each answer joined to its own row`);
} finally {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
