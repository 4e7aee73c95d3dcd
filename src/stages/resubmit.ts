// After a chunk's jobs: which keys go to another job, while the chunk has had fewer than
// maxJobAttempts jobs. A key no job answered (its job ended FAILED / CANCELLED / EXPIRED, passed its
// deadline, or lost the line) is sent again; a key answered with an error worth another try
// (429/500/503-like) too, while it has been sent fewer than maxRowAttempts times. Everything else
// is final.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AttemptState, ChunkState } from '../state/run-state.js';
import { rawLines } from '../util/lines.js';
import { SpoolWriter } from '../util/spool.js';
import { type AnswerIndex, leadingKeyRaw, readRowKeys } from './answers.js';
import type { ChunkRef } from './chunk.js';
import { REQUESTS_FILE } from './open-chunk.js';
import type { SubmitContext } from './submit.js';

/** How many of the chunk's attempts included each key (attempt 1 has them all). */
async function timesSent(dir: string, state: ChunkState): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const attempt of state.attempts.slice(1)) {
    for await (const line of rawLines(join(dir, attempt.requestsFile))) {
      const key = leadingKeyRaw(line);
      if (key !== undefined) counts.set(key, (counts.get(key) ?? 1) + 1);
    }
  }
  return counts;
}

/** Writes the next attempt's requests file, or returns undefined when nothing is to be sent again. */
export async function planResubmission(
  ref: ChunkRef,
  state: ChunkState,
  answers: AnswerIndex,
  ctx: SubmitContext,
): Promise<AttemptState | undefined> {
  const all = join(ref.dir, REQUESTS_FILE);
  if (!existsSync(all)) return undefined;
  // The common case costs no further reading: every request answered, no error worth a retry.
  let unanswered = 0;
  let retryableAnswers = 0;
  for (let i = 0; i < answers.rows; i++) {
    if (answers.attempt[i] === -1) unanswered++;
    else if (answers.retryable[i]) retryableAnswers++;
  }
  const errorRows = state.rows - state.requests; // never sent, so never answered
  if (unanswered <= errorRows && retryableAnswers === 0) return undefined;
  // maxJobAttempts caps the jobs of a chunk, whatever sends keys again.
  if (state.attempts.length >= ctx.maxJobAttempts) return undefined;
  const sent = await timesSent(ref.dir, state);
  const rowKeys = ref.rowKeys ?? (await readRowKeys(ref.dir));
  const n = state.attempts.length + 1;
  const requestsFile = `requests-${n}.jsonl`;
  let out: SpoolWriter | undefined;
  let requests = 0;
  let missing = 0;
  let retryable = 0;
  for await (const line of rawLines(all)) {
    // Only the key is decoded; a request is decoded only when it is sent again.
    const key = leadingKeyRaw(line);
    const row = key === undefined ? undefined : rowKeys.get(key);
    if (key === undefined || row === undefined) continue;
    let again = false;
    if (answers.attempt[row] === -1) {
      again = true;
      missing++;
    } else if (answers.retryable[row]) {
      again = (sent.get(key) ?? 1) < ctx.maxRowAttempts;
      if (again) retryable++;
    }
    if (!again) continue;
    out ??= new SpoolWriter(join(ref.dir, requestsFile));
    const wait = out.write(`${line.buf.toString('utf8', line.start, line.end)}\n`);
    if (wait) await wait;
    requests++;
  }
  if (!out) return undefined;
  await out.close();
  const digest = out.digest();
  const last = state.attempts[state.attempts.length - 1];
  const why = [
    missing
      ? `${missing} without an answer${last?.jobState && last.jobState !== 'JOB_STATE_SUCCEEDED' ? ` (the job ended ${last.jobState})` : ''}`
      : '',
    retryable ? `${retryable} answered with an error worth another try` : '',
  ]
    .filter(Boolean)
    .join(', ');
  ctx.emit({
    type: 'warning',
    chunk: ref.index,
    code: 'RESUBMIT',
    message: `sending ${requests} keys again as job attempt ${n}: ${why}`,
  });
  return {
    n,
    displayName: ctx.run.displayName(ref.index, n, digest),
    requestsFile,
    requests,
    bytes: out.bytes,
    phase: 'spooled',
  };
}
