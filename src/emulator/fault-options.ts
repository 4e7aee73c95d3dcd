// The fault options: what each HTTP fault action and job fault effect is (its zod schema is the one
// list of them; the types derive from it), and their validation. faults.ts decides and applies them.

import { z } from 'zod';
import { API_ROUTE_IDS, CREATE_ROUTES, type RouteId } from './route-ids.js';
import { BATCH_STATES } from './store.js';

const count = z.number().int().positive();
const nth = z.union([count, z.array(count).min(1)]);
const probability = z.number().min(0).max(1);
const ms = z
  .number()
  .min(0)
  .max(2 ** 31 - 1);
const routeId = z.enum(API_ROUTE_IDS);

/** A rule's `times` counts from its `nth`s: alone it means nothing. */
function timesNeedsNth(rule: { nth?: unknown; times?: number }, ctx: z.RefinementCtx): void {
  if (rule.times !== undefined && rule.nth === undefined)
    ctx.addIssue({ code: 'custom', path: ['times'], message: '`times` needs `nth`' });
}

/** What happens to one HTTP call. */
const httpActionSchema = z.discriminatedUnion('type', [
  /** A JSON error in the real shape (`{error:{code,message,status}}`, the status name from the HTTP
   *  code), with an optional `Retry-After` header and/or a google.rpc.RetryInfo detail. No side effect. */
  z.strictObject({
    type: z.literal('error'),
    status: z.number().int().min(400).max(599),
    message: z.string().optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    retryDelaySeconds: z.number().min(0).optional(),
  }),
  /** Destroys the connection before handling (no side effect happens). */
  z.strictObject({ type: z.literal('drop') }),
  /** Handles the call fully (e.g. the batch IS created), then destroys the connection without answering. */
  z.strictObject({ type: z.literal('dropAfter') }),
  /** Handles the call, then answers (normally) after `ms`. */
  z.strictObject({ type: z.literal('delay'), ms }),
  /** Upload chunk: reads `bytes` (default half) of the body, then destroys the socket (the chunk is not
   *  accepted). Other routes: handles the call, sends `bytes` (default half) of the answer's body, then
   *  destroys the socket. */
  z.strictObject({ type: z.literal('truncate'), bytes: z.number().int().min(0).optional() }),
  /** Upload routes: answers without `x-goog-upload-status` (a chunk IS accepted). */
  z.strictObject({ type: z.literal('noUploadStatus') }),
  /** Handles the call, then answers 200 with an unparsable body (the first half of the real one). */
  z.strictObject({ type: z.literal('badJson') }),
  /** Batch creates: the input file named in the body is deleted (as after its 48 h) before handling,
   *  so the create answers 403 PERMISSION_DENIED like the real API. */
  z.strictObject({ type: z.literal('expireInput') }),
  /** Upload chunk that finalizes: the file is stored with only the first half of its bytes, and its
   *  record and the answer's `sizeBytes` say so (as when the end of an upload was lost). A rule that
   *  matches an earlier chunk of the upload counts as fired but changes nothing. */
  z.strictObject({ type: z.literal('wrongSize') }),
]);

/** What happens to one HTTP call (the variants and their fields: httpActionSchema). */
export type HttpFaultAction = z.output<typeof httpActionSchema>;

const HTTP_ACTION_TYPES = httpActionSchema.options.map((o) => o.shape.type.value);

export interface HttpFaultRule {
  /** The route (RouteId from route-ids.ts), or `*` for every API route. */
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

/** Why `action` cannot happen on `route`, or undefined when it can. */
export function inapplicable(type: HttpFaultAction['type'], route: RouteId): string | undefined {
  if (type === 'noUploadStatus' && route !== 'upload.chunk' && route !== 'upload.start')
    return 'noUploadStatus applies only to upload.start and upload.chunk';
  if (type === 'badJson' && route === 'files.download')
    return 'badJson does not apply to files.download (raw bytes; use the malformed job effect)';
  if (type === 'expireInput' && !CREATE_ROUTES.has(route))
    return 'expireInput applies only to batches.create and batches.createEmbeddings';
  if (type === 'wrongSize' && route !== 'upload.chunk') return 'wrongSize applies only to upload.chunk';
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
    timesNeedsNth(rule, ctx);
    if (rule.route !== '*') {
      const why = inapplicable(rule.action.type, rule.route);
      if (why) ctx.addIssue({ code: 'custom', path: ['action', 'type'], message: why });
    }
  });

/** The states the API defines: fault `unknownState` must report another one. */
const KNOWN_STATES: ReadonlySet<string> = new Set(['BATCH_STATE_UNSPECIFIED', ...BATCH_STATES]);

/** What happens to one batch job. */
const jobEffectSchema = z.discriminatedUnion('type', [
  /** Stays PENDING until it expires (`expireAfterMs`) or is cancelled. */
  z.strictObject({ type: z.literal('stuck') }),
  /** Ends in `state` after processing fraction `after` (0..1, default 0.5) of its requests; with `partial`
   *  (default true) the processed lines are kept as its output; `error` is set on the Operation. */
  z.strictObject({
    type: z.literal('end'),
    state: z.enum(['FAILED', 'CANCELLED', 'EXPIRED']),
    after: probability.optional(),
    partial: z.boolean().optional(),
  }),
  /** Result lines out of input order (shuffled within windows of 1000 lines: bounded memory). */
  z.strictObject({ type: z.literal('shuffle') }),
  /** Leaves out every Nth result line. */
  z.strictObject({ type: z.literal('dropKeys'), every: count }),
  /** Writes every Nth result line twice; the second copy differs (`responseId`, answer text). */
  z.strictObject({ type: z.literal('duplicateKeys'), every: count }),
  /** Adds `count` result lines with keys never sent, spread over the output. */
  z.strictObject({ type: z.literal('unknownKeys'), count: count.max(1_000_000) }),
  /** Adds a result line for each of `keys` after the job's own lines, though this job was not sent
   *  them: keys sent to another job (an earlier one of the same chunk), a misattributed answer. The
   *  answer echoes `An answer for <key>, which this job was not sent.` */
  z.strictObject({
    type: z.literal('foreignKeys'),
    keys: z.array(z.string().min(1)).min(1).max(10_000),
  }),
  /** Every Nth result line is cut in the middle (not valid JSON); inline: an entry with neither
   *  `response` nor `error`. With `joinNext` the cut line loses its newline too and runs into the
   *  next line (which then ends with the next key, so only reading it whole shows the damage). */
  z.strictObject({ type: z.literal('malformed'), every: count, joinNext: z.boolean().optional() }),
  /** Every Nth request is answered `{"error":{code,message}}` (default code 13, INTERNAL). */
  z.strictObject({
    type: z.literal('lineErrors'),
    every: count,
    code: z.number().int().min(1).max(16).optional(),
    message: z.string().optional(),
  }),
  /** After the job ends, its output file's download (and get) answers 404 for `ms`. */
  z.strictObject({ type: z.literal('outputNotReady'), ms }),
  /** After the job SUCCEEDED, its Operation carries no `output` (nor `response`) for `ms`. */
  z.strictObject({ type: z.literal('outputMissing'), ms }),
  /** A file job is answered inline (`metadata.output.inlinedResponses`, key in `metadata.key`)
   *  instead of with a `responsesFile`. Holds the results in memory: meant for small jobs. */
  z.strictObject({ type: z.literal('inline') }),
  /** Reports this unknown `metadata.state` for `ms` when it starts running, then carries on. */
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
  /** Every Nth successful answer gets a thought part of `bytes` characters (default 1 MiB) first, so its
   *  result line is very long (and the results file large) without a large input. */
  z.strictObject({
    type: z.literal('longLines'),
    every: count,
    bytes: z
      .number()
      .int()
      .positive()
      .max(256 * 1024 * 1024)
      .optional(),
  }),
]);

/** What happens to one batch job (the variants and their fields: jobEffectSchema). */
export type JobFaultEffect = z.output<typeof jobEffectSchema>;

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
  .superRefine(timesNeedsNth);

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
