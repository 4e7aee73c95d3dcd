// chunk: BatchItems → chunks spooled to disk, one job's worth each (at most maxRequestsPerJob rows,
// failed rows included, and maxBytesPerJob of requests); the same input makes the same chunks on a
// rerun. One chunk's files and key checks: open-chunk.ts.

import { GbsError } from '../errors.js';
import type { ProgressEvent } from '../progress.js';
import type { KeyFilter } from '../state/key-filter.js';
import type { KeyIndex } from '../state/key-index.js';
import type { ChunkState, RunState } from '../state/run-state.js';
import type { BatchItem, ErrorInfo } from '../types.js';
import { OpenChunk } from './open-chunk.js';

/** A spooled chunk, ready to be submitted (or already done in an earlier run). */
export interface ChunkRef {
  index: number;
  dir: string;
  state: ChunkState;
  /** The state existed before this process: the chunk was checked, not spooled as new. */
  resumed: boolean;
  /** Row index by key, in input order (saves reading rows.jsonl to find each answer's row). */
  rowKeys?: Map<string, number>;
  /** Rows never sent (failed before becoming requests), from the chunker: saves reading requests.jsonl. */
  unsent?: number[];
}

export interface ChunkContext {
  run: RunState;
  maxRequestsPerJob: number;
  maxBytesPerJob: number;
  keyFilter: KeyFilter;
  keyIndex: KeyIndex;
  emit(event: ProgressEvent): void;
}

/**
 * Spools items (arriving in batches) into chunks and yields each chunk when it is full (or the
 * input ends). Pulls more items only when asked for the next chunk: a consumer that stops asking
 * stops the source.
 */
export async function* chunkItems(
  batches: AsyncIterable<BatchItem[]>,
  ctx: ChunkContext,
): AsyncGenerator<ChunkRef> {
  let index = 0;
  let open: OpenChunk | undefined;
  try {
    for await (const batch of batches) {
      for (const item of batch) {
        if (item === null || typeof item !== 'object') {
          throw new GbsError(
            'GBS_INVALID_OPTION',
            `Expected batch items ({ key, request, row }), got ${item === null ? 'null' : typeof item}`,
          );
        }
        let requestLine: string | undefined;
        let requestBytes = 0;
        let error: ErrorInfo | undefined;
        if (!item.error) {
          if (item.request === undefined) {
            error = {
              stage: 'build',
              code: 'GBS_BUILD_FAILED',
              message: 'the batch item has neither a request nor an error',
            };
          } else {
            requestLine = `{"key":${JSON.stringify(item.key)},"request":${JSON.stringify(item.request)}}\n`;
            requestBytes = Buffer.byteLength(requestLine);
            if (requestBytes > ctx.maxBytesPerJob) {
              error = {
                stage: 'chunk',
                code: 'GBS_REQUEST_TOO_LARGE',
                message: `the request takes ${requestBytes} bytes, more than maxBytesPerJob (${ctx.maxBytesPerJob})`,
              };
              requestLine = undefined;
              requestBytes = 0;
            }
          }
          if (error && item.line !== undefined) error.line = item.line;
        }
        // A chunk holds at most maxRequestsPerJob rows, failed ones included (each row has its key
        // in the chunk's index in RAM: an input whose rows mostly fail must not make one huge
        // chunk), and at most maxBytesPerJob of requests.
        if (
          open &&
          (open.rows + 1 > ctx.maxRequestsPerJob ||
            (requestLine !== undefined && open.bytes + requestBytes > ctx.maxBytesPerJob))
        ) {
          const full = open;
          open = undefined;
          yield await full.close();
        }
        open ??= new OpenChunk(index++, ctx);
        const wait = open.add(item, requestLine, requestBytes, error);
        if (wait) await wait;
      }
    }
    if (open) {
      const last = open;
      open = undefined;
      yield await last.close();
    }
  } finally {
    open?.discard();
  }
}
