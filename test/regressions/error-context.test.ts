// Regression: an error thrown from a chunk's job work (upload, create, poll, cancel, download, and
// the lists and deletes done on their way) ended the run without saying which chunk or job: a
// `batches.get` that kept answering 503 gave a GBS_API_ERROR whose `chunk` and `job` were undefined.

import { describe, expect, it } from 'vitest';
import type { FaultOptions, HttpFaultRule, RouteId } from '../../src/emulator/index.js';
import { httpStatusOf } from '../../src/gemini/retry.js';
import { GbsError, type ProgressEvent } from '../../src/index.js';
import { byId, FAST, prompt } from '../faults/invariants.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runRows } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

/** A 503 on every call of the route (no `nth`: it lasts, the retries run out). */
const lasting = (route: RouteId): HttpFaultRule => ({ route, action: { type: 'error', status: 503 } });
/** A 503 on the route's first call only. */
const once = (route: RouteId): HttpFaultRule => ({ route, nth: 1, action: { type: 'error', status: 503 } });

const cases: Array<{
  name: string;
  faults: FaultOptions;
  options?: object;
  code: string;
  message: RegExp;
  /** Whether the job exists when the error happens (then `err.job` is its name). */
  job: boolean;
  /** The SDK's ApiError is the `cause` (not for a download that broke off: no API error). */
  apiCause?: false;
}> = [
  {
    name: 'files.upload',
    faults: { http: [lasting('upload.start')] },
    code: 'GBS_UPLOAD_FAILED',
    message: /^files\.upload failed: 503/,
    job: false,
  },
  {
    name: 'files.list (looking for an earlier upload before a retry)',
    faults: { http: [once('upload.start'), lasting('files.list')] },
    code: 'GBS_API_ERROR',
    message: /^files\.list failed: 503/,
    job: false,
  },
  {
    name: 'files.delete (of a short copy found before a retry)',
    faults: {
      http: [{ route: 'upload.chunk', nth: 1, action: { type: 'wrongSize' } }, lasting('files.delete')],
    },
    code: 'GBS_API_ERROR',
    message: /^files\.delete failed: 503/,
    job: false,
  },
  {
    name: 'batches.create',
    faults: { http: [lasting('batches.create')] },
    code: 'GBS_API_ERROR',
    message: /^batches\.create failed: 503/,
    job: false,
  },
  {
    name: 'batches.list (looking for a lost create before a retry)',
    faults: { http: [once('batches.create'), lasting('batches.list')] },
    code: 'GBS_API_ERROR',
    message: /^batches\.list failed: 503/,
    job: false,
  },
  {
    name: 'batches.get',
    faults: { http: [lasting('batches.get')] },
    code: 'GBS_API_ERROR',
    message: /^batches\.get failed: 503/,
    job: true,
  },
  {
    name: 'batches.cancel (at jobDeadlineMs)',
    faults: { jobs: [{ effect: { type: 'stuck' } }], http: [lasting('batches.cancel')] },
    options: { jobDeadlineMs: 500 },
    code: 'GBS_API_ERROR',
    message: /^batches\.cancel failed: 503/,
    job: true,
  },
  {
    name: 'files.download',
    faults: { http: [lasting('files.download')] },
    code: 'GBS_DOWNLOAD_FAILED',
    message: /^files\.download failed: 503/,
    job: true,
  },
  {
    name: 'files.download (broken off every time)',
    faults: { http: [{ ...lasting('files.download'), action: { type: 'truncate' } }] },
    code: 'GBS_DOWNLOAD_FAILED',
    message: /broke off after \d+ bytes/,
    job: true,
    apiCause: false,
  },
];

describe('errors thrown from a chunk’s job work carry the chunk and the job', () => {
  it.each(cases)('$name → $code', async ({ faults, options, code, message, job, apiCause }) => {
    const emu = await start();
    // Two chunks, one at a time: the faults start once chunk 0 has its results, so the failure is
    // chunk 1's (chunk 0's delete of its input file may fail too: that is only a warning).
    const err = await runRows(
      emu,
      rowsOf(6),
      prompt,
      {
        stateDir: temp(),
        ...FAST,
        maxRequestsPerJob: 3,
        maxConcurrentJobs: 1,
        ...options,
        onProgress: (e: ProgressEvent) => {
          if (e.type === 'downloaded' && e.chunk === 0) emu.setFaults(faults);
        },
      },
      byId,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GbsError);
    const e = err as GbsError;
    expect({ code: e.code, chunk: e.chunk }).toEqual({ code, chunk: 1 });
    expect(e.message).toMatch(message);
    expect(httpStatusOf(e.cause), 'the cause is kept').toBe(apiCause === false ? undefined : 503);
    const jobs = emu.stats().batches;
    if (job) {
      expect(jobs).toHaveLength(2);
      expect(e.job).toBe(jobs[1]?.name);
    } else {
      expect(jobs).toHaveLength(1);
      expect(e.job).toBeUndefined();
    }
  });
});
