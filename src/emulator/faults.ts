// Fault knobs: make the emulator misbehave the way the real service does (see the fault scenarios
// 1–17 of gemini-batch-faults.md), deterministically (route X, the Nth call) or from a seed (random
// faults at a rate). HTTP faults are decided per call here and carried out by http-faults.ts; job faults
// are decided when a batch is created and stored in its record, so they survive a restart. What the
// options are, and their validation: fault-options.ts.

import { fmix } from '../util/hash.js';
import {
  type FaultOptions,
  type HttpFaultAction,
  inapplicable,
  type JobFaultEffect,
} from './fault-options.js';
import { CREATE_ROUTES, type RouteId } from './route-ids.js';
import { RpcError, statusForHttp } from './rpc.js';

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

/** The first effect of a type among a job's faults. */
export function effectOf<T extends JobFaultEffect['type']>(
  faults: StoredJobFaults | undefined,
  type: T,
): Extract<JobFaultEffect, { type: T }> | undefined {
  return faults?.effects.find((e): e is Extract<JobFaultEffect, { type: T }> => e.type === type);
}
