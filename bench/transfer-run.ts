// Upload and download of one large file through the library's GeminiApi (the SDK's resumable
// upload, and files.download with the library's own fetch), as a child process, reporting the peak
// RSS of each phase: evidence that neither holds a whole file in memory. Used by
// bench/transfer-check.ts.
//
//   node transfer-run.js --base-url URL --file requests.jsonl --dest results.jsonl

import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GoogleGenAI } from '@google/genai';
import { GeminiApi } from '../src/gemini/api.js';
import { childArgs, MODEL, required, startMeasure } from './common.js';

const args = childArgs();
const measure = startMeasure('transfer');
const client = new GoogleGenAI({ apiKey: 'bench', httpOptions: { baseUrl: required(args, 'base-url') } });
const api = new GeminiApi(client, {
  signal: new AbortController().signal,
  policy: { retries: 2, minTimeoutMs: 100, maxTimeoutMs: 1000 },
});

/** Peak RSS (MB) while `fn` runs, sampled every 5 ms. */
async function peakDuring<T>(fn: () => Promise<T>): Promise<{ value: T; peakMb: number; ms: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const t0 = performance.now();
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, peakMb: peak / 2 ** 20, ms: performance.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

const file = required(args, 'file');
const dest = required(args, 'dest');
const baselineMb = process.memoryUsage.rss() / 2 ** 20;
const up = await peakDuring(() => api.upload(file, 'transfer-check', { chunk: 0 }));
const job = await api.createJob(MODEL, up.value.name, 'transfer-check', { chunk: 0 });
let status = await api.getJob(job.name);
while (
  !['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(
    status.state,
  )
) {
  await sleep(200);
  status = await api.getJob(job.name);
}
if (!status.outputFile) throw new Error(`the job ended ${status.state} without a results file`);
const down = await peakDuring(() => api.download(status.outputFile as string, dest));
measure.done(0, {
  baselineMb,
  uploadBytes: (await stat(file)).size,
  uploadPeakMb: up.peakMb,
  uploadMs: up.ms,
  downloadBytes: down.value,
  downloadPeakMb: down.peakMb,
  downloadMs: down.ms,
});
process.exit(0);
