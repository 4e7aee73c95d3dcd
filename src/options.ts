// geminiBatch's one options object, validated up front with zod: a bad option fails fast with a
// message naming the option and the value.

import type { GoogleGenAI } from '@google/genai';
import { z } from 'zod';
import { GbsError } from './errors.js';
import type { ProgressEvent } from './progress.js';
import { DEFAULT_KEY_FILTER_BYTES } from './state/key-filter.js';

const GB = 1000 ** 3;

const interval = z.union([
  z.number().min(0),
  z.strictObject({ initial: z.number().min(0), max: z.number().min(0) }).refine((v) => v.max >= v.initial, {
    message: 'max must be at least initial',
  }),
]);

export const geminiBatchOptionsSchema = z.strictObject({
  model: z.string().min(1),
  stateDir: z.string().min(1),
  client: z
    .custom<GoogleGenAI>(
      (v) => typeof v === 'object' && v !== null && 'batches' in v && 'files' in v,
      'expected a GoogleGenAI client',
    )
    .optional(),
  outputSchema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'expected a zod schema').optional(),
  /** Requests per job; also the most rows a chunk holds, failed rows included (their keys are in RAM). */
  maxRequestsPerJob: z.number().int().min(1).default(20_000),
  /** The API takes input files up to 2 GB; the default keeps a wide margin. */
  maxBytesPerJob: z
    .number()
    .int()
    .min(1024)
    .max(2 * GB)
    .default(1 * GB),
  maxConcurrentJobs: z.number().int().min(1).max(100).default(4),
  pollIntervalMs: interval.default({ initial: 10_000, max: 60_000 }),
  ordered: z.boolean().default(true),
  /** Jobs per chunk in all: a job that ends FAILED / CANCELLED / EXPIRED (or past its deadline) is followed by one for its missing keys. */
  maxJobAttempts: z.number().int().min(1).max(20).default(3),
  /** Times a row is sent in all when its answer is an error worth another try (429/500/503-like). */
  maxRowAttempts: z.number().int().min(1).max(20).default(3),
  /** How long a job may stay PENDING or RUNNING (the API expires jobs at 48 h). */
  jobDeadlineMs: z
    .number()
    .positive()
    .default(36 * 3_600_000),
  /** Past the deadline: cancel it and send its missing keys again, or stop with GBS_JOB_DEADLINE. */
  onJobDeadline: z.enum(['resubmit', 'error']).default('resubmit'),
  /** A state written by a run with other settings or another input: stop, or set it aside and start over. */
  onStateMismatch: z.enum(['error', 'restart']).default('error'),
  includeResponse: z.boolean().default(false),
  cancelOnAbort: z.boolean().default(false),
  deleteUploadedFiles: z.boolean().default(true),
  keyFilterBytes: z.number().int().min(64).default(DEFAULT_KEY_FILTER_BYTES),
  retry: z
    .strictObject({
      retries: z.number().int().min(0).default(8),
      minTimeoutMs: z.number().min(0).default(1000),
      maxTimeoutMs: z.number().min(0).default(60_000),
    })
    .default({ retries: 8, minTimeoutMs: 1000, maxTimeoutMs: 60_000 }),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal').optional(),
  onProgress: z
    .custom<(event: ProgressEvent) => void>((v) => typeof v === 'function', 'expected a function')
    .optional(),
});

/** Options of {@link geminiBatch}. */
export type GeminiBatchOptions = z.input<typeof geminiBatchOptionsSchema>;
export type ResolvedOptions = z.output<typeof geminiBatchOptionsSchema>;

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Parses options, throwing GBS_INVALID_OPTION naming the first bad option and its value. */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `Unknown ${what} option \`${keys[0]}\`${keys.length > 1 ? ` (and ${keys.length - 1} more)` : ''}`,
      {
        option: keys[0] ?? '',
      },
    );
  }
  let value: unknown = options;
  for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
  throw new GbsError(
    'GBS_INVALID_OPTION',
    `Invalid ${what} option \`${path}\`: ${issue.message.replace(/^Invalid input: /, '')} (got ${show(value)})`,
    {
      option: path,
    },
  );
}
