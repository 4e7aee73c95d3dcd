// The pipeline under test, as a child process (compiled to plain JS by the harness, importing the
// built library from dist/): csvSource → toRequests → geminiBatch → jsonlSink, against an emulator
// running in another process. geminiBatch gets its defaults except:
//   - stateDir (required),
//   - pollIntervalMs (default { initial: 10 s, max: 60 s }): the emulator's jobs finish at once, so
//     a 10 s poll would only add idle wall time, not CPU; --poll-ms (default 100) sets both.
//
//   node pipeline-run.js --csv in.csv --state dir --out out.jsonl --base-url http://127.0.0.1:PORT
//     [--poll-ms 100] [--options '{"keyFilterBytes":1048576}'] [--fail-every N]
//   node --expose-gc pipeline-run.js … --retained-ms 250
//   node pipeline-run.js … --trace-ms 10 [--trace-series]
//
// `--retained-ms N` (for bench/memory-check.ts) forces a full collection every N ms and reports the
// largest memory still live after one (`heapUsed + arrayBuffers`): what the library holds, free of
// how lazily V8 collects. It slows the run, so its CPU and RSS figures are not the benchmark's.
//
// `--fail-every N` makes the request builder throw for every Nth row (0-based ordinals 0, N, 2N, …;
// N = 1: every row), so those rows become error records without ever being requests.
//
// `--trace-ms N` samples memory every N ms and reports the breakdown at the largest RSS
// (`process.memoryUsage()` and V8's heap spaces, MB); `--trace-series` adds every sample as
// [ms, rss, heapTotal, heapUsed, arrayBuffers]. Like `--options` (JSON, merged into geminiBatch's
// options), it is for diagnosis only; the benchmark and the memory check never pass them.

import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { csvSource, geminiBatch, jsonlSink, type RunSummary, toRequests } from '../src/index.js';
import { childArgs, MODEL, prompt, required, startMeasure } from './common.js';

const args = childArgs();
const measure = startMeasure('pipeline');
const retained = { peakMb: 0, heapMb: 0, arrayBuffersMb: 0, samples: 0 };
const retainedMs = Number(args.get('retained-ms') ?? 0);
function sampleRetained(): void {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const total = (m.heapUsed + m.arrayBuffers) / 2 ** 20;
  retained.samples++;
  if (total > retained.peakMb) {
    retained.peakMb = total;
    retained.heapMb = m.heapUsed / 2 ** 20;
    retained.arrayBuffersMb = m.arrayBuffers / 2 ** 20;
  }
}
const traceMs = Number(args.get('trace-ms') ?? 0);
const traceSeries = args.has('trace-series');
let trace: Record<string, number> = { rssMb: 0 };
const series: number[][] = [];
if (traceMs > 0) {
  const { getHeapSpaceStatistics } = await import('node:v8');
  const toMb = (bytes: number) => bytes / 2 ** 20;
  setInterval(() => {
    const m = process.memoryUsage();
    if (traceSeries)
      series.push(
        [performance.now(), m.rss, m.heapTotal, m.heapUsed, m.arrayBuffers].map((v, i) =>
          Math.round(i ? toMb(v) : v),
        ),
      );
    if (toMb(m.rss) <= (trace.rssMb ?? 0)) return;
    trace = {
      t: performance.now(),
      rssMb: toMb(m.rss),
      heapTotalMb: toMb(m.heapTotal),
      heapUsedMb: toMb(m.heapUsed),
    };
    trace.arrayBuffersMb = toMb(m.arrayBuffers);
    for (const space of getHeapSpaceStatistics()) trace[space.space_name] = toMb(space.space_size);
  }, traceMs).unref();
}
if (retainedMs > 0) {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function')
    throw new Error('--retained-ms needs node --expose-gc');
  setInterval(sampleRetained, retainedMs).unref();
}
const failEvery = Number(args.get('fail-every') ?? 0);
const ai = new GoogleGenAI({ apiKey: 'bench', httpOptions: { baseUrl: required(args, 'base-url') } });
let summary: RunSummary | undefined;
const jobs = { created: 0, uploadedBytes: 0, downloadedBytes: 0 };
await pipeline(
  csvSource<Record<string, string>>(required(args, 'csv')),
  toRequests<Record<string, string>>(
    failEvery > 0
      ? (row, ordinal) => {
          if (ordinal % failEvery === 0) throw new Error('no prompt for this row (--fail-every)');
          return prompt(row);
        }
      : (row) => prompt(row),
    { key: (row) => row.id },
  ),
  geminiBatch({
    client: ai,
    model: MODEL,
    stateDir: required(args, 'state'),
    pollIntervalMs: Number(args.get('poll-ms') ?? 100),
    ...(JSON.parse(args.get('options') ?? '{}') as Record<string, unknown>),
    onProgress: (e) => {
      if (e.type === 'done') summary = e.summary;
      else if (e.type === 'job-created') jobs.created++;
      else if (e.type === 'uploaded') jobs.uploadedBytes += e.bytes;
      else if (e.type === 'downloaded') jobs.downloadedBytes += e.bytes;
    },
  }),
  jsonlSink(required(args, 'out')),
);
measure.done(summary?.rows ?? 0, {
  succeeded: summary?.succeeded,
  failed: summary?.failed,
  chunks: summary?.chunks,
  ...jobs,
  ...(retainedMs > 0 ? { retained } : {}),
  ...(traceMs > 0 ? { trace, ...(series.length ? { series } : {}) } : {}),
});
// Idle keep-alive sockets must not hold the process (and its --cpu-prof file) open.
process.exit(0);
