// What a run costs: a dated price table (USD per million tokens), overridable by a JSON file, and
// the arithmetic that turns token counts (a RunSummary's usage, an estimate) into dollars.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { GbsError } from './errors.js';
import type { RunSummary } from './progress.js';
import type { Usage } from './types.js';

/** Interactive (standard tier) prices of one model, in USD per million tokens. */
export interface ModelPrice {
  /** Prompt tokens. */
  input: number;
  /** Answer and thinking tokens (thinking is billed as output). */
  output: number;
  /** Prompt tokens served from a context cache; the input price when absent. */
  cachedInput?: number;
  /**
   * Cache hits in a batch job. Most models bill them at the full `cachedInput` price (the batch
   * discount does not apply to them), which is the default; without `cachedInput` they are plain
   * input at the batch price.
   */
  batchCachedInput?: number;
}

export interface PriceTable {
  /** When the figures were read from `source` (YYYY-MM-DD). */
  date: string;
  source: string;
  /** Fraction taken off the interactive price by the Batch API (0.5: half price). */
  batchDiscount: number;
  /** Model name (without `models/`) → prices. A model matches its longest prefix among these names. */
  models: Record<string, ModelPrice>;
  /** The entry used for a model the table does not know. */
  fallback: string;
}

/**
 * The built-in price table. ILLUSTRATIVE: https://ai.google.dev/gemini-api/docs/pricing (paid tier,
 * text input, prompts up to 200k tokens; Batch API at 50 %) cannot be reached from where this was
 * written. The figures were first copied by hand, then checked on 2026-11-25 against third-party
 * copies of that page (dated March–July 2026), which agree with each other on every figure below,
 * and on 2026-11-26 against a copy from October 2026 (the batch cache prices, and gemini-3.5-flash).
 * gemini-3-pro-preview and gemini-2.0-* are shut down (March and June 2026); kept for old runs.
 * Prices change and differ by modality and prompt length: check them before relying on any
 * estimate, and pass your own table (`--prices FILE`, {@link loadPrices}) when they differ.
 */
export const DEFAULT_PRICES: PriceTable = {
  date: '2026-07-04',
  source:
    'https://ai.google.dev/gemini-api/docs/pricing (paid tier, text, prompts up to 200k tokens), as quoted by third-party copies; illustrative, check before use',
  batchDiscount: 0.5,
  models: {
    // Names are matched by prefix: gemini-3.1-pro-preview → gemini-3.1-pro.
    'gemini-3.5-flash': { input: 1.5, output: 9.0, cachedInput: 0.15, batchCachedInput: 0.075 },
    'gemini-3.1-pro': { input: 2.0, output: 12.0, cachedInput: 0.2 },
    'gemini-3-pro-preview': { input: 2.0, output: 12.0, cachedInput: 0.2 },
    'gemini-3-flash': { input: 0.5, output: 3.0, cachedInput: 0.05 },
    'gemini-3.1-flash-lite': { input: 0.25, output: 1.5, cachedInput: 0.025, batchCachedInput: 0.0125 },
    'gemini-2.5-pro': { input: 1.25, output: 10.0, cachedInput: 0.125 },
    'gemini-2.5-flash': { input: 0.3, output: 2.5, cachedInput: 0.03 },
    'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cachedInput: 0.01 },
    'gemini-2.0-flash': { input: 0.1, output: 0.4, cachedInput: 0.025 },
    'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
  },
  // An unknown model is priced like the dearest: an estimate should not promise too little.
  fallback: 'gemini-3.1-pro',
};

const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cachedInput: z.number().min(0).optional(),
  batchCachedInput: z.number().min(0).optional(),
});

const overrideSchema = z.strictObject({
  date: z.string().min(1).optional(),
  source: z.string().optional(),
  batchDiscount: z.number().min(0).max(1).optional(),
  models: z.record(z.string().min(1), priceSchema).optional(),
  fallback: z.string().min(1).optional(),
});

/** A price table file: any of the table's fields; `models` entries are added to (or replace) the built-in ones. */
export type PriceOverrides = z.input<typeof overrideSchema>;

/**
 * Merges overrides over a table (`models` entry by entry); checks the fallback names a model.
 *
 * @example
 * ```ts
 * import { mergePrices } from 'gemini-batch-stream';
 * const prices = mergePrices({ date: '2026-01-15', models: { 'gemini-2.5-flash': { input: 0.3, output: 2.5 } } });
 * ```
 */
export function mergePrices(overrides: PriceOverrides, base: PriceTable = DEFAULT_PRICES): PriceTable {
  const parsed = overrideSchema.safeParse(overrides);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `Invalid price table: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { option: 'prices' },
    );
  }
  const o = parsed.data;
  const table: PriceTable = {
    date: o.date ?? (o.models ? `${base.date} with overrides` : base.date),
    source: o.source ?? base.source,
    batchDiscount: o.batchDiscount ?? base.batchDiscount,
    models: { ...base.models, ...o.models },
    fallback: o.fallback ?? base.fallback,
  };
  if (!table.models[table.fallback]) {
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `Invalid price table: fallback "${table.fallback}" is not one of its models`,
      { option: 'prices' },
    );
  }
  return table;
}

/**
 * Reads a price table from a JSON file and merges it over {@link DEFAULT_PRICES}.
 *
 * @example
 * ```ts
 * import { loadPrices, estimateCost } from 'gemini-batch-stream';
 * // prices.json: {"date": "2026-01-15", "models": {"gemini-2.5-flash": {"input": 0.3, "output": 2.5}}}
 * const prices = loadPrices('prices.json');
 * console.log(estimateCost({ promptTokens: 1e6, outputTokens: 2e5 }, 'gemini-2.5-flash', prices).batchUsd);
 * ```
 */
export function loadPrices(path: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new GbsError(
      'GBS_INVALID_OPTION',
      `Cannot read the price table ${path}: ${(err as Error).message}`,
      {
        option: 'prices',
        cause: err,
      },
    );
  }
  return mergePrices(raw as PriceOverrides);
}

/**
 * The table entry for a model: exact name, else the longest name it starts with (a dated or preview
 * variant), else the fallback.
 *
 * @example
 * ```ts
 * import { priceFor } from 'gemini-batch-stream';
 * priceFor('gemini-2.5-flash-preview-09-2025'); // { model: 'gemini-2.5-flash', price: {...}, fallback: false }
 * ```
 */
export function priceFor(
  model: string,
  prices: PriceTable = DEFAULT_PRICES,
): { model: string; price: ModelPrice; fallback: boolean } {
  const name = model.replace(/^models\//, '');
  let best: string | undefined;
  for (const key of Object.keys(prices.models)) {
    if ((name === key || name.startsWith(`${key}-`)) && (!best || key.length > best.length)) best = key;
  }
  const key = best ?? prices.fallback;
  return { model: key, price: prices.models[key] as ModelPrice, fallback: best === undefined };
}

export interface CostEstimate {
  /** The table entry used (see `fallback`). */
  model: string;
  /** True when the model is not in the table and was priced as `model`. */
  fallback: boolean;
  /** Cost at the Batch API's price. */
  batchUsd: number;
  /** What the same tokens cost with interactive calls (`generateContent`). */
  interactiveUsd: number;
  /** The price table's date. */
  pricesDate: string;
}

/**
 * Prices token counts: prompt tokens (cached ones at the cache price) at the input price, answer
 * and thinking tokens at the output price; the batch price takes `batchDiscount` off all but cache
 * hits, which cost `batchCachedInput` (by default the interactive cache price).
 *
 * @example
 * ```ts
 * import { estimateCost } from 'gemini-batch-stream';
 * const cost = estimateCost({ promptTokens: 2_000_000, outputTokens: 500_000 }, 'gemini-2.5-flash');
 * console.log(cost.batchUsd.toFixed(2), cost.interactiveUsd.toFixed(2));
 * ```
 */
export function estimateCost(
  usage: Partial<Usage>,
  model: string,
  prices: PriceTable = DEFAULT_PRICES,
): CostEstimate {
  const { model: key, price, fallback } = priceFor(model, prices);
  const prompt = usage.promptTokens ?? 0;
  const cached = Math.min(usage.cachedTokens ?? 0, prompt);
  const output = (usage.outputTokens ?? 0) + (usage.thoughtsTokens ?? 0);
  const uncachedUsd = ((prompt - cached) * price.input + output * price.output) / 1e6;
  const interactiveUsd = uncachedUsd + (cached * (price.cachedInput ?? price.input)) / 1e6;
  const batchCached = price.batchCachedInput ?? price.cachedInput ?? price.input * (1 - prices.batchDiscount);
  return {
    model: key,
    fallback,
    batchUsd: uncachedUsd * (1 - prices.batchDiscount) + (cached * batchCached) / 1e6,
    interactiveUsd,
    pricesDate: prices.date,
  };
}

/**
 * The cost of a run from its summary's token totals (every row in the output, including rows a
 * resumed run took from an earlier one).
 *
 * @example
 * ```ts
 * import { geminiBatch, summaryCost } from 'gemini-batch-stream';
 * const stage = geminiBatch({ model: 'gemini-2.5-flash', stateDir: '.gemini-batch/x' });
 * stage.on('progress', (e) => {
 *   if (e.type === 'done') console.log(summaryCost(e.summary, 'gemini-2.5-flash').batchUsd);
 * });
 * ```
 */
export function summaryCost(summary: RunSummary, model: string, prices?: PriceTable): CostEstimate {
  return estimateCost(summary.usage, model, prices);
}
