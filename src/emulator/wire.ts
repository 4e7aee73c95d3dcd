// Records → the JSON the real API sends: File resources and batch Operations (proto3 JSON: int64 as
// strings, zero counts omitted, RFC 3339 timestamps, enums as strings).

import { afterEndFault } from './faults.js';
import type { BatchRecord, FileRecord } from './store.js';
import { TERMINAL_STATES } from './store.js';

const TYPE_PREFIX = 'type.googleapis.com/google.ai.generativelanguage.v1main.';

export function nowIso(): string {
  return new Date().toISOString();
}

/** The times of a file made now that lives `ttlMs`. */
export function newFileTimes(
  ttlMs: number,
): Pick<FileRecord, 'createTime' | 'updateTime' | 'expirationTime'> {
  const now = nowIso();
  return {
    createTime: now,
    updateTime: now,
    expirationTime: new Date(Date.parse(now) + ttlMs).toISOString(),
  };
}

/** The File resource as `files.get` returns it; `origin` is the emulator's `http://host:port`. */
export function fileToWire(file: FileRecord, origin: string, version: string): Record<string, unknown> {
  const id = file.name.slice('files/'.length);
  return {
    name: file.name,
    ...(file.displayName ? { displayName: file.displayName } : {}),
    mimeType: file.mimeType,
    sizeBytes: String(file.sizeBytes),
    createTime: file.createTime,
    updateTime: file.updateTime,
    expirationTime: file.expirationTime,
    sha256Hash: file.sha256Hash,
    uri: `${origin}/${version}/files/${id}`,
    ...(file.source === 'GENERATED'
      ? { downloadUri: `${origin}/download/${version}/files/${id}:download?alt=media` }
      : {}),
    state: 'ACTIVE',
    source: file.source,
  };
}

/** batchStats as the API sends it: int64 strings, zero counts left out. */
export function batchStats(batch: BatchRecord): Record<string, string> {
  const pending = Math.max(0, batch.requestCount - batch.successful - batch.failed);
  const stats: Record<string, string> = {};
  const put = (name: string, n: number) => {
    if (n > 0) stats[name] = String(n);
  };
  put('requestCount', batch.requestCount);
  put('successfulRequestCount', batch.successful);
  put('failedRequestCount', batch.failed);
  put('pendingRequestCount', pending);
  return stats;
}

function outputOf(batch: BatchRecord, withInline: boolean): Record<string, unknown> | undefined {
  if (batch.outputFile) return { responsesFile: batch.outputFile };
  if (batch.inlinedResponses && withInline)
    return { inlinedResponses: { inlinedResponses: batch.inlinedResponses } };
  return undefined;
}

/**
 * The long-running Operation for a batch. `withInline` is false for `batches.list`, which (like the
 * real API) leaves inline results out.
 */
export function batchToOperation(batch: BatchRecord, withInline = true): Record<string, unknown> {
  const kind = batch.kind === 'embed' ? 'EmbedContentBatch' : 'GenerateContentBatch';
  const output = afterEndFault(batch.faults, 'outputMissing', batch.endTime)
    ? undefined
    : outputOf(batch, withInline);
  const done = TERMINAL_STATES.has(batch.state);
  const metadata: Record<string, unknown> = {
    '@type': `${TYPE_PREFIX}${kind}`,
    model: batch.model,
    ...(batch.displayName ? { displayName: batch.displayName } : {}),
    ...(batch.inputFile ? { inputConfig: { fileName: batch.inputFile } } : {}),
    ...(output ? { output } : {}),
    createTime: batch.createTime,
    updateTime: batch.updateTime,
    ...(batch.endTime ? { endTime: batch.endTime } : {}),
    batchStats: batchStats(batch),
    state: batch.state,
    name: `batches/${batch.id}`,
    ...(batch.priority && batch.priority !== '0' ? { priority: batch.priority } : {}),
  };
  const op: Record<string, unknown> = { name: `batches/${batch.id}`, metadata };
  if (done) op.done = true;
  if (batch.error) op.error = batch.error;
  else if (done && batch.state === 'BATCH_STATE_SUCCEEDED' && output) {
    op.response = { '@type': `${TYPE_PREFIX}${kind}Output`, ...output };
  }
  return op;
}
