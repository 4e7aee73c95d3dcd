// The pipeline the kill test runs (and kills): CSV → toRequests → geminiBatch → jsonlSink, against
// an emulator process. Args: <csv> <stateDir> <out> <baseUrl> [maxRequestsPerJob].

import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { csvSource, geminiBatch, jsonlSink, toRequests } from '../../src/index.js';

const [csv, stateDir, out, baseUrl, perJob = '2000'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
];

await pipeline(
  csvSource(csv),
  toRequests((row: Record<string, string>) => `Classify the sentiment of: ${row.review}`, {
    key: (row) => row.id,
  }),
  geminiBatch({
    client: new GoogleGenAI({ apiKey: 'kill-test', httpOptions: { baseUrl } }),
    model: 'gemini-2.5-flash',
    stateDir,
    maxRequestsPerJob: Number(perJob),
    maxConcurrentJobs: 3,
    pollIntervalMs: { initial: 20, max: 200 },
    retry: { retries: 10, minTimeoutMs: 20, maxTimeoutMs: 500 },
  }),
  jsonlSink(out),
);
