// Fault knobs: make the emulator misbehave the way the real service does (see the fault scenarios
// 1–17 of gemini-batch-faults.md), deterministically (route X, the Nth call) or from a seed (random
// faults at a rate). HTTP faults are decided per call here and carried out by the server; job faults
// are decided when a batch is created and stored in its record, so they survive a restart.

import { z } from 'zod';
import { fmix } from '../util/hash.js';
import { API_ROUTE_IDS, CREATE_ROUTES, type RouteId } from './route-ids.js';
import { RpcError, statusForHttp } from './rpc.js';

/** What happens to one HTTP call. */
export type HttpFaultAction =
  /** A JSON error in the real shape (`{error:{code,message,status}}`, the status name from the HTTP
   *  code), with an optional `Retry-After` header and/or a google.rpc.RetryInfo detail. No side effect. */
  | {
      type: 'error';
      status: number;
      message?: string;
      retryAfterSeconds?: number;
      retryDelaySeconds?: number;
    }
  /** Destroys the connection before handling (no side effect happens). */
  | { type: 'drop' }
  /** Handles the call fully (e.g. the batch IS created), then destroys the connection without answering. */
  | { type: 'dropAfter' }
  /** Handles the call, then answers (normally) after `ms`. */
  | { type: 'delay'; ms: number }
  /** Upload chunk: reads `bytes` (default half) of the body, then destroys the socket (the chunk is not
   *  accepted). Other routes: handles the call, sends `bytes` (default half) of the answer's body, then
   *  destroys the socket. */
  | { type: 'truncate'; bytes?: number }
  /** Upload routes: answers without `x-goog-upload-status` (a chunk IS accepted). */
  | { type: 'noUploadStatus' }
  /** Handles the call, then answers 200 with an unparsable body (the first half of the real one). */
  | { type: 'badJson' }
  /** Batch creates: the input file named in the body is deleted (as after its 48 h) before handling,
   *  so the create answers 403 PERMISSION_DENIED like the real API. */
  | { type: 'expireInput' };

export interface HttpFaultRule {
  /** The route (RouteId from server.ts), or `*` for every API route. */
  route: RouteId | '*';
  /** 1-based call counts of this route (per route, since the emulator started or since setFaults);
   *  with `*`, each route's own count (`nth: 1` = the first call of every route). */
  nth?: number | number[];
  /** With `nth`: this many consecutive calls from each nth (default 1). */
  times?: number;
  /** Probability per call, from the seeded PRNG. Without `nth` and `rate`: every call. With both:
   *  the `nth` calls, each with this probability. The first matching rule wins; `random` comes last. */
  rate?: number;
  action: HttpFaultAction;
}

/** What happens to one batch job. */
export type JobFaultEffect =
  /** Stays PENDING until it expires (`expireAfterMs`) or is cancelled. */
  | { type: 'stuck' }
  /** Ends in `state` after processing fraction `after` (0..1, default 0.5) of its requests; with `partial`
   *  (default true) the processed lines are kept as its output; `error` is set on the Operation. */
  | { type: 'end'; state: 'FAILED' | 'CANCELLED' | 'EXPIRED'; after?: number; partial?: boolean }
  /** Result lines out of input order (shuffled within windows of 1000 lines: bounded memory). */
  | { type: 'shuffle' }
  /** Leaves out every Nth result line. */
  | { type: 'dropKeys'; every: number }
  /** Writes every Nth result line twice; the second copy differs (`responseId`, answer text). */
  | { type: 'duplicateKeys'; every: number }
  /** Adds `count` result lines with keys never sent, spread over the output. */
  | { type: 'unknownKeys'; count: number }
  /** Every Nth result line is cut in the middle (not valid JSON); inline: an entry with neither
   *  `response` nor `error`. With `joinNext` the cut line loses its newline too and runs into the
   *  next line (which then ends with the next key, so only reading it whole shows the damage). */
  | { type: 'malformed'; every: number; joinNext?: boolean }
  /** Every Nth request is answered `{"error":{code,message}}` (default code 13, INTERNAL). */
  | { type: 'lineErrors'; every: number; code?: number; message?: string }
  /** After the job ends, its output file's download (and get) answers 404 for `ms`. */
  | { type: 'outputNotReady'; ms: number }
  /** After the job SUCCEEDED, its Operation carries no `output` (nor `response`) for `ms`. */
  | { type: 'outputMissing'; ms: number }
  /** A file job is answered inline (`metadata.output.inlinedResponses`, key in `metadata.key`)
   *  instead of with a `responsesFile`. Holds the results in memory: meant for small jobs. */
  | { type: 'inline' }
  /** Reports this unknown `metadata.state` for `ms` when it starts running, then carries on. */
  | { type: 'unknownState'; state: string; ms: number }
  /** Every Nth successful answer gets a thought part of `bytes` characters (default 1 MiB) first, so its
   *  result line is very long (and the results file large) without a large input. */
  | { type: 'longLines'; every: number; bytes?: number };

export interface JobFaultRule {
  /** 1-based counts of the successful creates this rule's `displayName` matches (all creates without it),
   *  since the emulator started or since setFaults. */
  nth?: number | number[];
  times?: number;
  /** Probability per create, from the seeded PRNG. Without `nth` and `rate`: every create. */
  rate?: number;
  /** Only jobs whose displayName matches this RegExp source. */
  displayName?: string;
  effect: JobFaultEffect | JobFaultEffect[];
}

export interface FaultOptions {
  /** For `rate` and `random`, default 1. */
  seed?: number;
  http?: HttpFaultRule[];
  jobs?: JobFaultRule[];
  /** Random transient faults: each call of the listed routes (default: all API routes) gets one with
   *  probability `rate`, chosen from `kinds` (default: error 503 with Retry-After 0, error 429 with
   *  RetryInfo 0s, error 500, drop, dropAfter for creates, truncate for downloads and upload chunks).
   *  Deterministic given the seed and the per-route call order. */
  random?: { rate: number; routes?: RouteId[]; kinds?: Array<HttpFaultAction['type']> };
}

/** A fault that fired: on an HTTP call (`route`, the route's call `n`) or on a job at create
 *  (`job` = `batches/{id}`, `n` = the rule's create count). */
export interface FaultApplied {
  route?: RouteId;
  job?: string;
  type: string;
  n: number;
}

/** The job faults stored in a batch record. */
export interface StoredJobFaults {
  effects: JobFaultEffect[];
  /** Seeds the job's own randomness (shuffle). */
  seed: number;
}

// ---------------------------------------------------------------------------------------------
// Validation

const KNOWN_STATES = new Set([
  'BATCH_STATE_UNSPECIFIED',
  'BATCH_STATE_PENDING',
  'BATCH_STATE_RUNNING',
  'BATCH_STATE_SUCCEEDED',
  'BATCH_STATE_FAILED',
  'BATCH_STATE_CANCELLED',
  'BATCH_STATE_EXPIRED',
]);

const count = z.number().int().positive();
const nth = z.union([count, z.array(count).min(1)]);
const probability = z.number().min(0).max(1);
const ms = z
  .number()
  .min(0)
  .max(2 ** 31 - 1);
const routeId = z.enum(API_ROUTE_IDS);

const httpActionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('error'),
    status: z.number().int().min(400).max(599),
    message: z.string().optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    retryDelaySeconds: z.number().min(0).optional(),
  }),
  z.strictObject({ type: z.literal('drop') }),
  z.strictObject({ type: z.literal('dropAfter') }),
  z.strictObject({ type: z.literal('delay'), ms }),
  z.strictObject({ type: z.literal('truncate'), bytes: z.number().int().min(0).optional() }),
  z.strictObject({ type: z.literal('noUploadStatus') }),
  z.strictObject({ type: z.literal('badJson') }),
  z.strictObject({ type: z.literal('expireInput') }),
]);

const HTTP_ACTION_TYPES = [
  'error',
  'drop',
  'dropAfter',
  'delay',
  'truncate',
  'noUploadStatus',
  'badJson',
  'expireInput',
] as const satisfies ReadonlyArray<HttpFaultAction['type']>;

/** Why `action` cannot happen on `route`, or undefined when it can. */
export function inapplicable(type: HttpFaultAction['type'], route: RouteId): string | undefined {
  if (type === 'noUploadStatus' && route !== 'upload.chunk' && route !== 'upload.start')
    return 'noUploadStatus applies only to upload.start and upload.chunk';
  if (type === 'badJson' && route === 'files.download')
    return 'badJson does not apply to files.download (raw bytes; use the malformed job effect)';
  if (type === 'expireInput' && !CREATE_ROUTES.has(route))
    return 'expireInput applies only to batches.create and batches.createEmbeddings';
  return undefined;
}

const httpRuleSchema = z
  .strictObject({
    route: z.enum([...API_ROUTE_IDS, '*']),
    nth: nth.optional(),
    times: count.optional(),
    rate: probability.optional(),
    action: httpActionSchema,
  })
  .superRefine((rule, ctx) => {
    if (rule.times !== undefined && rule.nth === undefined)
      ctx.addIssue({ code: 'custom', path: ['times'], message: '`times` needs `nth`' });
    if (rule.route !== '*') {
      const why = inapplicable(rule.action.type, rule.route);
      if (why) ctx.addIssue({ code: 'custom', path: ['action', 'type'], message: why });
    }
  });

const jobEffectSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stuck') }),
  z.strictObject({
    type: z.literal('end'),
    state: z.enum(['FAILED', 'CANCELLED', 'EXPIRED']),
    after: probability.optional(),
    partial: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal('shuffle') }),
  z.strictObject({ type: z.literal('dropKeys'), every: count }),
  z.strictObject({ type: z.literal('duplicateKeys'), every: count }),
  z.strictObject({ type: z.literal('unknownKeys'), count: count.max(1_000_000) }),
  z.strictObject({ type: z.literal('malformed'), every: count, joinNext: z.boolean().optional() }),
  z.strictObject({
    type: z.literal('lineErrors'),
    every: count,
    code: z.number().int().min(1).max(16).optional(),
    message: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('outputNotReady'), ms }),
  z.strictObject({ type: z.literal('outputMissing'), ms }),
  z.strictObject({ type: z.literal('inline') }),
  z.strictObject({
    type: z.literal('unknownState'),
    state: z
      .string()
      .min(1)
      .refine(
        (s) => !KNOWN_STATES.has(s),
        'must be a state the API does not define (e.g. BATCH_STATE_PAUSED)',
      ),
    ms,
  }),
  z.strictObject({
    type: z.literal('longLines'),
    every: count,
    bytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .optional(),
  }),
]);

const jobRuleSchema = z
  .strictObject({
    nth: nth.optional(),
    times: count.optional(),
    rate: probability.optional(),
    displayName: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'not a valid regular expression')
      .optional(),
    effect: z.union([jobEffectSchema, z.array(jobEffectSchema).min(1)]),
  })
  .superRefine((rule, ctx) => {
    if (rule.times !== undefined && rule.nth === undefined)
      ctx.addIssue({ code: 'custom', path: ['times'], message: '`times` needs `nth`' });
  });

export const faultOptionsSchema = z.strictObject({
  seed: z.number().int().optional(),
  http: z.array(httpRuleSchema).optional(),
  jobs: z.array(jobRuleSchema).optional(),
  random: z
    .strictObject({
      rate: probability,
      routes: z.array(routeId).min(1).optional(),
      kinds: z.array(z.enum(HTTP_ACTION_TYPES)).min(1).optional(),
    })
    .optional(),
});

// The schema's output must be usable where the declared interfaces are expected.
type Parsed = z.output<typeof faultOptionsSchema>;
const _check: (p: Parsed) => FaultOptions = (p) => p;
void _check;

export function formatIssues(error: z.ZodError, root = '(options)'): string {
  return error.issues.map((i) => `\`${i.path.join('.') || root}\`: ${i.message}`).join('; ');
}

/** Validates fault options; throws a TypeError naming each bad field (e.g. `http.0.action.status`). */
export function parseFaultOptions(input: unknown): FaultOptions {
  const parsed = faultOptionsSchema.safeParse(input);
  if (!parsed.success)
    throw new TypeError(`Invalid fault options: ${formatIssues(parsed.error, '(faults)')}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** A number in [0, 1) that depends only on (seed, tag, n). */
export function unit(seed: number, tag: string, n: number): number {
  let h = fmix((seed | 0) ^ fmix(Math.floor(seed / 2 ** 32) | 0));
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193);
  h = fmix(h ^ fmix(n | 0));
  return h / 2 ** 32;
}

// ---------------------------------------------------------------------------------------------
// The engine

const MAX_APPLIED = 10_000;

function hits(rule: { nth?: number | number[]; times?: number }, n: number): boolean {
  if (rule.nth === undefined) return true;
  const times = rule.times ?? 1;
  const starts = Array.isArray(rule.nth) ? rule.nth : [rule.nth];
  return starts.some((k) => n >= k && n < k + times);
}

/** The variants of each kind that `random` picks from (the defaults: see FaultOptions.random). */
function randomVariants(
  kind: HttpFaultAction['type'],
  route: RouteId,
  draw: number,
  explicit: boolean,
): HttpFaultAction[] {
  switch (kind) {
    case 'error':
      return [
        { type: 'error', status: 503, retryAfterSeconds: 0 },
        { type: 'error', status: 429, retryDelaySeconds: 0 },
        { type: 'error', status: 500 },
      ];
    case 'drop':
      return [{ type: 'drop' }];
    case 'dropAfter':
      return explicit || CREATE_ROUTES.has(route) ? [{ type: 'dropAfter' }] : [];
    case 'truncate':
      return explicit || route === 'files.download' || route === 'upload.chunk' ? [{ type: 'truncate' }] : [];
    case 'delay':
      return [{ type: 'delay', ms: Math.round(draw * 1000) }];
    default:
      return inapplicable(kind, route) ? [] : [{ type: kind }];
  }
}

const DEFAULT_KINDS: Array<HttpFaultAction['type']> = ['error', 'drop', 'dropAfter', 'truncate'];

/** Decides, call by call and job by job, which faults happen; keeps the per-route counters. */
export class FaultEngine {
  private options: FaultOptions = {};
  private calls = new Map<RouteId, number>();
  private jobCounts: number[] = [];
  private creates = 0;
  /** The faults that fired (the last 10 000). */
  readonly applied: FaultApplied[] = [];

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  get current(): FaultOptions {
    return structuredClone(this.options);
  }

  /** Replaces the rules and resets the counters (the log of applied faults is kept). */
  set(options: FaultOptions): void {
    this.options = structuredClone(options);
    this.calls = new Map();
    this.jobCounts = (options.jobs ?? []).map(() => 0);
    this.creates = 0;
  }

  private get seed(): number {
    return this.options.seed ?? 1;
  }

  private record(entry: FaultApplied): void {
    this.applied.push(entry);
    if (this.applied.length > MAX_APPLIED) this.applied.splice(0, this.applied.length - MAX_APPLIED);
  }

  /** Counts a call of `route` and returns the fault it gets, if any. */
  decideHttp(route: RouteId): { action: HttpFaultAction; n: number } | undefined {
    const n = (this.calls.get(route) ?? 0) + 1;
    this.calls.set(route, n);
    const pick = (action: HttpFaultAction) => {
      this.record({ route, type: action.type, n });
      return { action, n };
    };
    for (const [i, rule] of (this.options.http ?? []).entries()) {
      if (rule.route !== '*' && rule.route !== route) continue;
      if (inapplicable(rule.action.type, route)) continue;
      if (!hits(rule, n)) continue;
      if (rule.rate !== undefined && unit(this.seed, `http:${i}:${route}`, n) >= rule.rate) continue;
      return pick(rule.action);
    }
    const random = this.options.random;
    if (!random || random.rate <= 0) return undefined;
    if (random.routes && !random.routes.includes(route)) return undefined;
    if (unit(this.seed, `random:${route}`, n) >= random.rate) return undefined;
    const draw = unit(this.seed, `random-kind:${route}`, n);
    const variants = (random.kinds ?? DEFAULT_KINDS).flatMap((k) =>
      randomVariants(k, route, unit(this.seed, `random-param:${route}`, n), random.kinds !== undefined),
    );
    const action = variants[Math.floor(draw * variants.length)];
    return action ? pick(action) : undefined;
  }

  /** Called once per successful create: the job faults the new batch gets (stored in its record). */
  decideJob(displayName: string | undefined, batchName: string): StoredJobFaults | undefined {
    this.creates++;
    const effects: JobFaultEffect[] = [];
    for (const [i, rule] of (this.options.jobs ?? []).entries()) {
      if (rule.displayName !== undefined && !new RegExp(rule.displayName).test(displayName ?? '')) continue;
      const n = (this.jobCounts[i] ?? 0) + 1;
      this.jobCounts[i] = n;
      if (!hits(rule, n)) continue;
      if (rule.rate !== undefined && unit(this.seed, `job:${i}`, n) >= rule.rate) continue;
      for (const effect of Array.isArray(rule.effect) ? rule.effect : [rule.effect]) {
        effects.push(structuredClone(effect));
        this.record({ job: batchName, type: effect.type, n });
      }
    }
    if (effects.length === 0) return undefined;
    return { effects, seed: Math.floor(unit(this.seed, 'job-seed', this.creates) * 2 ** 32) };
  }
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Request contains an invalid argument.',
  403: 'The caller does not have permission',
  404: 'Requested entity was not found.',
  409: 'The operation was aborted.',
  429: 'Resource has been exhausted (e.g. check quota).',
  499: 'The operation was cancelled.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  502: 'The service is currently unavailable.',
  503: 'The service is currently unavailable.',
  504: 'Deadline expired before operation could complete.',
};

/** The error an `error` action answers with. */
export function faultError(action: Extract<HttpFaultAction, { type: 'error' }>): RpcError {
  const headers: Record<string, string> = {};
  if (action.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(Math.ceil(action.retryAfterSeconds));
  const details =
    action.retryDelaySeconds !== undefined
      ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${action.retryDelaySeconds}s` }]
      : undefined;
  return new RpcError(
    statusForHttp(action.status),
    action.message ?? DEFAULT_MESSAGES[action.status] ?? `The emulator answers ${action.status} (a fault).`,
    { http: action.status, headers, ...(details ? { details } : {}) },
  );
}

/** The first effect of a type among a job's faults. */
/**
 * Whether a fault that lasts `ms` past the job's end (`outputNotReady`, `outputMissing`) applies now:
 * from the start until `ms` after `endTime`.
 */
export function afterEndFault(
  faults: StoredJobFaults | undefined,
  type: 'outputNotReady' | 'outputMissing',
  endTime: string | undefined,
): boolean {
  const effect = effectOf(faults, type);
  return effect !== undefined && !(Date.now() >= Date.parse(endTime ?? '') + effect.ms);
}

export function effectOf<T extends JobFaultEffect['type']>(
  faults: StoredJobFaults | undefined,
  type: T,
): Extract<JobFaultEffect, { type: T }> | undefined {
  return faults?.effects.find((e): e is Extract<JobFaultEffect, { type: T }> => e.type === type);
}
