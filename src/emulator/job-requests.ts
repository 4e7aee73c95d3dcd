// A job's requests in input order: its inline list, or its input file read line by line (a line
// that is no valid request becomes that line's error, not the job's).

import { readLines } from '../util/lines.js';
import { isObject } from './fake-model.js';
import { type RpcStatus, rpcStatus } from './rpc.js';
import type { BatchRecord, Store } from './store.js';

/** One input request: its key (file) or metadata (inline), and the request or why it is invalid. */
interface RequestItem {
  key?: unknown;
  metadata?: Record<string, unknown>;
  request?: unknown;
  invalid?: RpcStatus;
}

function parseLine(line: string): RequestItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // Unparsable files are refused at create; this only guards against a file changed since.
    return { invalid: rpcStatus('INVALID_ARGUMENT', 'Invalid JSON in the input line.') };
  }
  if (!isObject(parsed)) {
    return { invalid: rpcStatus('INVALID_ARGUMENT', 'The input line is not an object.') };
  }
  const key = parsed.key;
  if (key === undefined || key === null || key === '') {
    return { invalid: rpcStatus('INVALID_ARGUMENT', 'Missing required field "key".') };
  }
  return { key, request: parsed.request };
}

/** The job's requests, in input order (a file is read line by line). */
export async function* readRequests(store: Store, batch: BatchRecord): AsyncGenerator<RequestItem> {
  if (batch.inlineRequests) {
    for (const item of batch.inlineRequests) {
      yield { request: item.request, ...(item.metadata ? { metadata: item.metadata } : {}) };
    }
    return;
  }
  const input = store.files.get(store.fileId(batch.inputFile ?? ''));
  if (!input) throw new Error(`input file ${batch.inputFile} is gone`);
  for await (const line of readLines(store.abs(input.dataPath))) {
    if (line.trim() !== '') yield parseLine(line);
  }
}
