// jsonlSink: one JSON line per BatchResult. To a path it writes a temp file and renames it into
// place at the end, so a crash never leaves a half-written output that looks complete.

import { Writable } from 'node:stream';
import { openTextTarget, type PathOrWritable } from './output-file.js';

/**
 * Writes each object as one JSON line. Given a path, the file appears only when the pipeline
 * ends successfully (temp file + fsync + rename); given a Writable, lines go straight to it.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { ndjsonSource, toRequests, geminiBatch, jsonlSink } from 'gemini-batch-stream';
 *
 * await pipeline(
 *   ndjsonSource('in.ndjson'),
 *   toRequests((row) => `Translate to French: ${row.text}`),
 *   geminiBatch({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/fr' }),
 *   jsonlSink('out.jsonl'),
 * );
 * ```
 */
export function jsonlSink(target: PathOrWritable): Writable {
  const out = openTextTarget(target);
  return new Writable({
    objectMode: true,
    // An output that cannot be opened fails the pipeline at once, not at the first result (which,
    // after a batch stage, comes when its jobs have run and been paid for).
    construct(callback) {
      callback(out.openError);
    },
    // Node hands a single write to writev too: one path for one record and for many.
    writev(records: Array<{ chunk: unknown }>, callback) {
      let text = '';
      try {
        for (const { chunk } of records) text += `${JSON.stringify(chunk)}\n`;
      } catch (err) {
        callback(err as Error);
        return;
      }
      const wait = out.write(text);
      if (wait) wait.then(() => callback(), callback);
      else callback();
    },
    final(callback) {
      out.finish().then(() => callback(), callback);
    },
    destroy(err, callback) {
      if (err) out.abandon().finally(() => callback(err));
      else callback(err);
    },
  });
}
