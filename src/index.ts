// Public API of gemini-batch-stream: stages composed with `stream/promises` `pipeline`.
// The emulator has its own entry point: `gemini-batch-stream/emulator`.

export type { GbsErrorCode, GbsErrorContext } from './errors.js';
export { GbsError } from './errors.js';
export type { RequestSpec } from './gemini/request.js';
export { toRestRequest } from './gemini/request.js';
export type { GeminiBatchOptions } from './options.js';
export type { CostEstimate, ModelPrice, PriceOverrides, PriceTable } from './pricing.js';
export { DEFAULT_PRICES, estimateCost, loadPrices, mergePrices, priceFor, summaryCost } from './pricing.js';
export type { BatchStats, ProgressEvent, RunSummary } from './progress.js';
export type { CsvColumn, CsvSinkOptions } from './sinks/csv.js';
export { csvSink } from './sinks/csv.js';
export { jsonlSink } from './sinks/jsonl.js';
export type { PathOrWritable } from './sinks/output-file.js';
export type { CsvSourceOptions } from './sources/csv.js';
export { csvSource } from './sources/csv.js';
export type { NdjsonSourceOptions } from './sources/ndjson.js';
export { ndjsonSource } from './sources/ndjson.js';
export type { PathOrReadable } from './sources/open.js';
export type { ChunkRef } from './stages/chunk.js';
export type { BatchRun } from './stages/gemini-batch.js';
export {
  chunkRequests,
  createBatchRun,
  geminiBatch,
  joinResults,
  submitBatches,
} from './stages/gemini-batch.js';
export type { GeminiOnlineOptions } from './stages/online.js';
export { geminiOnline } from './stages/online.js';
export type { CompletedChunk } from './stages/submit.js';
export type { RequestBuilder, ToRequestsOptions } from './stages/to-requests.js';
export { toRequests } from './stages/to-requests.js';
export type { CancelReport } from './state/cancel.js';
export { cancelRun } from './state/cancel.js';
export type { AttemptStatus, ChunkStatus, RunStatusReport } from './state/status.js';
export { readRunStatus } from './state/status.js';
export type {
  BatchItem,
  BatchResult,
  ErrorInfo,
  ErrorStage,
  RestRequest,
  Row,
  SourceRow,
  Usage,
} from './types.js';
export { ROW_ERROR, ROW_LINE, rowLine } from './types.js';
