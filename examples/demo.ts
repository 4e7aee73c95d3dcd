// `npm run demo`: 3000 reviews (fixtures/reviews.csv) → sentiment, showing a run's whole lifecycle
// (spool, upload, create, poll, download, join) on the in-process emulator, or the real API with --live.
//
//   npm run demo                                   # emulator, no key needed, ~10 s
//   GEMINI_API_KEY=... npm run demo -- --live      # the real service (GEMINI_MODEL to pick a model)

import { readFileSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import {
  csvSource,
  type GeminiBatchOptions,
  geminiBatch,
  jsonlSink,
  type ProgressEvent,
  type RunSummary,
  toRequests,
} from 'gemini-batch-stream';
import { type Emulator, startEmulator } from 'gemini-batch-stream/emulator';
import { z } from 'zod';

const INPUT = 'fixtures/reviews.csv';
const OUTPUT = 'out/reviews.out.jsonl';

const live = process.argv.includes('--live');
if (live && !process.env.GEMINI_API_KEY && !process.env.GOOGLE_API_KEY) {
  console.error('--live runs against the real Gemini API and needs an API key: set GEMINI_API_KEY.');
  console.error('Without --live the demo runs on the built-in emulator and needs no key.');
  process.exit(2);
}
const model = live ? (process.env.GEMINI_MODEL ?? 'gemini-2.5-flash') : 'gemini-2.5-flash';
// One state directory per target and model, so an emulator run never tries to resume live jobs.
const target = live ? `live-${model.replace(/[^\w.-]/g, '_')}` : 'emulator';
const stateDir = `out/.gemini-batch/reviews-demo-${target}`;

let emulator: Emulator | undefined;
if (!live) {
  // A rerun with the same stateDir resumes: every job is already done, so it would only replay the
  // results. Starting afresh each time shows the whole lifecycle. (The live run keeps its state:
  // there a rerun after Ctrl-C or a crash picks up its jobs instead of paying for them twice.)
  rmSync(stateDir, { recursive: true, force: true });
  // Jobs take a few seconds in each state, so the states are visible.
  emulator = await startEmulator({ pendingMs: 1500, runningMs: 4000 });
}

const started = Date.now();
const log = (text: string) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const shortState = (state: string) => state.replace(/^JOB_STATE_/, '');

let summary: RunSummary | undefined;
function onProgress(e: ProgressEvent): void {
  switch (e.type) {
    case 'chunk-spooled':
      log(`chunk ${e.chunk}: ${e.resumed ? 'resumed' : 'spooled'} ${e.requests} requests (${kb(e.bytes)})`);
      break;
    case 'uploaded':
      log(`chunk ${e.chunk}: uploaded ${e.file} (${kb(e.bytes)})`);
      break;
    case 'job-created':
      log(`chunk ${e.chunk}: ${e.adopted ? 'found existing job' : 'created job'} ${e.job}`);
      break;
    case 'job-state': {
      // The library reports a job only when its state or counts changed since the last poll.
      const s = e.stats;
      const done = s ? s.successfulRequestCount + s.failedRequestCount : 0;
      const counts = s ? ` ${done}/${s.requestCount} done, ${s.failedRequestCount} failed` : '';
      log(`chunk ${e.chunk}: ${shortState(e.state)}${counts} (waited ${secs(e.waitedMs)})`);
      break;
    }
    case 'downloaded':
      log(`chunk ${e.chunk}: downloaded results (${kb(e.bytes)})`);
      break;
    case 'chunk-emitted':
      log(`chunk ${e.chunk}: emitted ${e.rows} rows (${e.ok} ok, ${e.failed} failed)`);
      break;
    case 'retry':
      log(`retrying ${e.operation} in ${secs(e.delayMs)} (attempt ${e.attempt}): ${e.error}`);
      break;
    case 'warning':
      log(`warning${e.chunk !== undefined ? ` chunk ${e.chunk}` : ''}: ${e.code} ${e.message}`);
      break;
    case 'done':
      summary = e.summary;
      break;
  }
}

const review = z.object({
  id: z.string().regex(/^r\d{5}$/),
  product: z.string().min(1),
  rating: z.string().regex(/^[1-5]$/),
  review: z.string().min(1),
});
const sentiment = z.object({ sentiment: z.enum(['positive', 'negative', 'neutral']) });

// Ctrl-C stops cleanly: the jobs keep running on the service, and a rerun (live) collects them.
const stop = new AbortController();
process.once('SIGINT', () => stop.abort(new Error('interrupted (Ctrl-C)')));

const options: GeminiBatchOptions = {
  model,
  stateDir,
  outputSchema: sentiment,
  maxRequestsPerJob: 1000,
  // Emulator jobs finish in seconds; real ones in minutes to hours.
  pollIntervalMs: live ? { initial: 15_000, max: 120_000 } : { initial: 250, max: 1000 },
  signal: stop.signal,
  onProgress,
};
// Live: no `client`, so the library makes its default one from GEMINI_API_KEY.
if (emulator) options.client = new GoogleGenAI(emulator.clientOptions());

const where = emulator ? `the emulator at ${emulator.baseUrl}` : 'the Gemini API';
log(`${INPUT} → ${OUTPUT} with ${model} on ${where}`);
try {
  await pipeline(
    csvSource(INPUT),
    toRequests(
      (row) => ({
        contents:
          `Classify the sentiment of this customer review of the ${row.product} ` +
          `as positive, negative or neutral.\n\nReview:\n${row.review}`,
        config: { temperature: 0 },
      }),
      { key: (row) => row.id, rowSchema: review },
    ),
    geminiBatch(options),
    jsonlSink(OUTPUT),
  );
} catch (err) {
  if (stop.signal.aborted) {
    console.error(`stopped: ${(stop.signal.reason as Error).message}. State kept in ${stateDir}.`);
    await emulator?.close();
    process.exit(130);
  }
  throw err;
} finally {
  await emulator?.close();
}

if (!summary) throw new Error('the run ended without a summary');
const bySentiment: Record<string, number> = {};
for (const line of readFileSync(OUTPUT, 'utf8').split('\n')) {
  if (!line) continue;
  const label = (JSON.parse(line).output as z.infer<typeof sentiment> | undefined)?.sentiment ?? 'error';
  bySentiment[label] = (bySentiment[label] ?? 0) + 1;
}
const list = (counts: object) =>
  Object.entries(counts)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
const { usage: u, failed, failedByCode } = summary;
const report = [
  ['rows', `${summary.rows} → ${OUTPUT}`],
  ['succeeded', summary.succeeded],
  ['failed', failed ? `${failed} (${list(failedByCode)})` : 0],
  ['sentiment', list(bySentiment)],
  ['jobs', `${summary.jobsCreated} created, ${summary.jobsAdopted} adopted, ${summary.chunks} chunks`],
  ['tokens', `${u.promptTokens} in, ${u.outputTokens + u.thoughtsTokens} out (${u.thoughtsTokens} thinking)`],
  ['state', stateDir],
];
console.log(`\ndone in ${secs(Date.now() - started)}`);
for (const [label, value] of report) console.log(`  ${String(label).padEnd(10)} ${value}`);
if (emulator)
  console.log("(the emulator's fake model picks a label from a hash of the prompt, not by reading it)");
