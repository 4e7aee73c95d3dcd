// The price table and the cost arithmetic: lookup by model name, batch discount, cached and thinking
// tokens, overrides from a file, and the errors a bad table gives.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRICES,
  estimateCost,
  GbsError,
  loadPrices,
  mergePrices,
  priceFor,
  type RunSummary,
  summaryCost,
} from '../src/index.js';
import { emptySummary } from '../src/progress.js';
import { tempDirs } from './helpers.js';

const temp = tempDirs();

describe('pricing', () => {
  it('has a dated, sourced table with a fallback it knows', () => {
    expect(DEFAULT_PRICES.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(DEFAULT_PRICES.source).toContain('ai.google.dev');
    expect(DEFAULT_PRICES.models[DEFAULT_PRICES.fallback]).toBeDefined();
    expect(DEFAULT_PRICES.batchDiscount).toBe(0.5);
  });

  it.each([
    ['gemini-2.5-flash', 'gemini-2.5-flash', false],
    ['models/gemini-2.5-flash', 'gemini-2.5-flash', false],
    ['gemini-2.5-flash-lite', 'gemini-2.5-flash-lite', false],
    ['gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash', false],
    ['gemini-2.5-flash-lite-preview-06-17', 'gemini-2.5-flash-lite', false],
    ['gemini-2.5-flashy', DEFAULT_PRICES.fallback, true],
    ['some-other-model', DEFAULT_PRICES.fallback, true],
  ])('prices %s as %s', (model, key, fallback) => {
    expect(priceFor(model)).toMatchObject({ model: key, fallback });
  });

  it('bills prompt tokens at the input price (cached at the cache price), answers and thinking at the output price', () => {
    const flash = DEFAULT_PRICES.models['gemini-2.5-flash']!;
    const cost = estimateCost(
      { promptTokens: 1_000_000, cachedTokens: 200_000, outputTokens: 300_000, thoughtsTokens: 100_000 },
      'gemini-2.5-flash',
    );
    const interactive = 0.8 * flash.input + 0.2 * flash.cachedInput! + 0.4 * flash.output;
    expect(cost.interactiveUsd).toBeCloseTo(interactive, 12);
    // Cache hits cost the same in a batch: the discount applies to the rest only.
    expect(cost.batchUsd).toBeCloseTo(
      (0.8 * flash.input + 0.4 * flash.output) / 2 + 0.2 * flash.cachedInput!,
      12,
    );
    expect(cost).toMatchObject({
      model: 'gemini-2.5-flash',
      fallback: false,
      pricesDate: DEFAULT_PRICES.date,
    });
    expect(estimateCost({}, 'gemini-2.5-pro')).toMatchObject({ batchUsd: 0, interactiveUsd: 0 });
  });

  it.each([
    // [model, batch price of 1 M cache hits]: a batch cache price of its own, the interactive
    // cache price, and no cache price at all (plain input, discounted).
    ['gemini-3.1-flash-lite', 0.0125],
    ['gemini-2.5-pro', 0.125],
    ['gemini-2.0-flash-lite', 0.0375],
  ])('bills 1 M batch cache hits of %s at %f', (model, usd) => {
    const cost = estimateCost({ promptTokens: 1_000_000, cachedTokens: 1_000_000 }, model);
    expect(cost.batchUsd).toBeCloseTo(usd, 12);
  });

  it('prices a run summary from its usage', () => {
    const summary: RunSummary = emptySummary();
    summary.usage = {
      promptTokens: 2_000_000,
      outputTokens: 1_000_000,
      thoughtsTokens: 0,
      cachedTokens: 0,
      totalTokens: 3e6,
    };
    const pro = DEFAULT_PRICES.models['gemini-2.5-pro']!;
    expect(summaryCost(summary, 'gemini-2.5-pro').interactiveUsd).toBeCloseTo(2 * pro.input + pro.output, 12);
  });

  it('merges a price file over the table', () => {
    const dir = temp();
    const path = join(dir, 'prices.json');
    writeFileSync(
      path,
      JSON.stringify({
        date: '2031-02-03',
        batchDiscount: 0.4,
        models: { 'my-model': { input: 1, output: 4 } },
      }),
    );
    const prices = loadPrices(path);
    expect(prices.date).toBe('2031-02-03');
    expect(prices.models['gemini-2.5-flash']).toEqual(DEFAULT_PRICES.models['gemini-2.5-flash']);
    const cost = estimateCost({ promptTokens: 1e6, outputTokens: 1e6 }, 'my-model-v2', prices);
    expect(cost).toMatchObject({
      model: 'my-model',
      fallback: false,
      interactiveUsd: 5,
      pricesDate: '2031-02-03',
    });
    expect(cost.batchUsd).toBeCloseTo(3, 12);
    expect(mergePrices({ models: { x: { input: 1, output: 1 } } }).date).toBe(
      `${DEFAULT_PRICES.date} with overrides`,
    );
  });

  it.each([
    [{ models: { m: { input: -1, output: 1 } } }, /models\.m\.input/],
    [{ models: { m: { input: 1 } } }, /models\.m\.output/],
    [{ fallback: 'nope' }, /fallback "nope" is not one of its models/],
    [{ batchDiscount: 2 }, /batchDiscount/],
    [{ currency: 'EUR' }, /Invalid price table/],
  ])('refuses a bad table: %j', (table, message) => {
    expect(() => mergePrices(table as never)).toThrow(message);
    expect(() => mergePrices(table as never)).toThrow(GbsError);
  });

  it('names the file it cannot read', () => {
    expect(() => loadPrices('/nonexistent/prices.json')).toThrow(
      /Cannot read the price table \/nonexistent\/prices.json/,
    );
  });
});
