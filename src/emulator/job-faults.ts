// Job faults that shape a batch's results on their way out: lines left out, doubled, cut, made very
// long, invented, answered for keys the job was not sent, or shuffled (within bounded windows, so
// memory stays flat for any file size).

import { rng } from '../util/random.js';
import type { JobFaultEffect } from './fault-options.js';
import { effectOf, type StoredJobFaults } from './faults.js';
import type { RpcStatus } from './rpc.js';

/** One result on its way to the results file (or the inline list). */
export interface ResultItem {
  body: { response: unknown } | { error: RpcStatus };
  /** The line's `key` (file input). */
  key?: unknown;
  /** The request's `metadata` (inline input). */
  metadata?: Record<string, unknown>;
  /** Fault `malformed`: the line is cut in the middle (inline: neither `response` nor `error`);
   *  'joined': and its newline is lost. */
  broken?: boolean | 'joined';
}

type Effect<T extends JobFaultEffect['type']> = Extract<JobFaultEffect, { type: T }> | undefined;

/** Lines shuffled together at most (fault `shuffle`). */
const SHUFFLE_WINDOW = 1000;

type Json = Record<string, unknown>;

function firstParts(response: unknown): Json[] | undefined {
  const candidates = (response as { candidates?: unknown } | undefined)?.candidates;
  if (!Array.isArray(candidates)) return undefined;
  const parts = (candidates[0] as { content?: { parts?: unknown } } | undefined)?.content?.parts;
  return Array.isArray(parts) ? (parts as Json[]) : undefined;
}

/** The second copy of a duplicated line: the same key, another responseId and answer text. */
function duplicateOf(item: ResultItem): ResultItem {
  const copy = structuredClone(item);
  if ('response' in copy.body) {
    const response = copy.body.response as Json;
    if (typeof response.responseId === 'string') response.responseId = `${response.responseId}-dup`;
    const part = firstParts(response)?.find((p) => typeof p.text === 'string' && p.thought !== true);
    if (part) part.text = `${part.text} (duplicate)`;
  }
  return copy;
}

/** A very long answer: a thought part of `bytes` characters before the answer (the library skips thoughts). */
function lengthen(item: ResultItem, bytes: number): ResultItem {
  if (!('response' in item.body)) return item;
  const copy = structuredClone(item);
  const parts = firstParts((copy.body as { response: unknown }).response);
  if (!parts) return item;
  parts.unshift({ text: 'x'.repeat(bytes), thought: true });
  return copy;
}

/**
 * Applies a job's result-shaping faults between the runner (one `push` per request, in input order)
 * and the sink that writes the results.
 */
export class ResultShaper {
  private readonly window: ResultItem[] = [];
  private windows = 0;
  private unknownDone = 0;
  // A job's faults never change while it runs: each effect is looked up once, not per request.
  private readonly drop: Effect<'dropKeys'>;
  private readonly long: Effect<'longLines'>;
  private readonly malformed: Effect<'malformed'>;
  private readonly dup: Effect<'duplicateKeys'>;
  private readonly unknownKeys: Effect<'unknownKeys'>;
  private readonly foreignKeys: Effect<'foreignKeys'>;
  private readonly lineErrors: Effect<'lineErrors'>;
  private readonly shuffle: boolean;

  constructor(
    private readonly faults: StoredJobFaults | undefined,
    /** Requests in the job (unknown keys are spread over them). */
    private readonly total: number,
    private readonly sink: (item: ResultItem) => Promise<void>,
    /** The j-th (0-based) invented result. */
    private readonly unknown: (j: number) => ResultItem,
    /** A result for `key`, which this job was not sent (fault `foreignKeys`). */
    private readonly foreign: (key: string) => ResultItem,
  ) {
    this.drop = effectOf(faults, 'dropKeys');
    this.long = effectOf(faults, 'longLines');
    this.malformed = effectOf(faults, 'malformed');
    this.dup = effectOf(faults, 'duplicateKeys');
    this.unknownKeys = effectOf(faults, 'unknownKeys');
    this.foreignKeys = effectOf(faults, 'foreignKeys');
    this.lineErrors = effectOf(faults, 'lineErrors');
    this.shuffle = effectOf(faults, 'shuffle') !== undefined;
  }

  /** Fault `lineErrors`: the error the `index`-th (1-based) request gets instead of an answer. */
  lineError(index: number): RpcStatus | undefined {
    const e = this.lineErrors;
    if (!e || index % e.every !== 0) return undefined;
    return { code: e.code ?? 13, message: e.message ?? 'Internal error encountered.' };
  }

  /** The result of the `index`-th (1-based) request. */
  async push(index: number, item: ResultItem): Promise<void> {
    const { drop, long, malformed, dup, unknownKeys: unknown } = this;
    if (!drop || index % drop.every !== 0) {
      let out = long && index % long.every === 0 ? lengthen(item, long.bytes ?? 1024 * 1024) : item;
      if (malformed && index % malformed.every === 0)
        out = { ...out, broken: malformed.joinNext ? 'joined' : true };
      await this.out(out);
      if (dup && index % dup.every === 0) await this.out(duplicateOf(out));
    }
    if (unknown) {
      // The j-th invented line goes after result ceil((j+1)·total/(count+1)): spread evenly.
      while (
        this.unknownDone < unknown.count &&
        Math.ceil(((this.unknownDone + 1) * this.total) / (unknown.count + 1)) <= index
      ) {
        await this.out(this.unknown(this.unknownDone++));
      }
    }
  }

  /** Writes what is held back (invented lines not placed yet, foreign keys' lines, the last shuffle window). */
  async finish(): Promise<void> {
    const unknown = this.unknownKeys;
    while (unknown && this.unknownDone < unknown.count) await this.out(this.unknown(this.unknownDone++));
    for (const key of this.foreignKeys?.keys ?? []) await this.out(this.foreign(key));
    await this.flush();
  }

  private async out(item: ResultItem): Promise<void> {
    if (!this.shuffle) return this.sink(item);
    this.window.push(item);
    if (this.window.length >= SHUFFLE_WINDOW) await this.flush();
  }

  private async flush(): Promise<void> {
    const items = this.window.splice(0);
    if (items.length === 0) return;
    const random = rng((this.faults?.seed ?? 1) + Math.imul(++this.windows, 0x9e3779b9));
    const order = items.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    // Out of order for sure: a permutation that happens to be the identity is rotated by one.
    if (order.every((v, i) => v === i)) order.push(order.shift() as number);
    for (const i of order) await this.sink(items[i] as ResultItem);
  }
}
