// `gemini-batch estimate`: what a run would cost, before it runs. Input tokens from the countTokens
// API on a sample of rows (scaled to the whole input by characters), or 4 characters per token
// without an endpoint; output tokens from a preview's answers, --output-tokens, or an assumption.

import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { observingFetch } from '../gemini/fetch.js';
import { type RetryHooks, withRetry } from '../gemini/retry.js';
import { estimateCost, ROW_ERROR, readRunStatus } from '../index.js';
import { type Connection, connect, FAKE_BANNER, isFake } from './endpoint.js';
import { count, usd } from './format.js';
import { defaultStateDir, JOB_FLAGS, type Job, openRows, parseJob } from './job.js';
import { EXIT, intFlag } from './usage.js';

export const ESTIMATE_HELP = `Usage: gemini-batch estimate --input FILE --prompt TEXT [options]

Projects the tokens and the cost of 'gemini-batch run' with the same flags, at batch price and at
interactive price, without sending any prompt to a model.

Takes the same flags as 'run' (--input, --format, --prompt, --prompt-file, --system, --key,
--schema, --model, --limit, --state, --emulator, --emulator-url, --prices, --json), and:
      --sample N             rows whose tokens are counted with the countTokens API (default 50,
                             the first N rows); the rest are scaled by their characters
      --output-tokens N      answer tokens per row to assume (default: the average of a preview
                             run with --online in the same state directory, else 100)

Input tokens: the countTokens API (free) when GEMINI_API_KEY is set (or an emulator is named,
whose count is itself 4 characters per token); otherwise 4 characters per token. The system
instruction and the prompt are counted as one text. Prices come from a dated table in the library
(illustrative: check them), or --prices FILE.

Exit codes: 0 done; 2 bad usage; 3 failed.

Examples:
  gemini-batch estimate --input reviews.csv --prompt 'Classify the sentiment of: {{review}}'
  gemini-batch estimate --input reviews.csv --prompt-file prompt.txt --model gemini-2.5-pro \\
    --output-tokens 40 --prices prices.json --json
`;

const DEFAULT_OUTPUT_TOKENS = 100;
const CHARS_PER_TOKEN = 4;

/** Transient failures (408, 429, 5xx, the network) are tried again, after a Retry-After if one is given. */
const COUNT_RETRY: RetryHooks = {
  signal: new AbortController().signal,
  policy: { retries: 4, minTimeoutMs: 500, maxTimeoutMs: 8000 },
};

async function countTokens(conn: Connection, model: string, texts: string[]): Promise<number> {
  const limit = pLimit(4);
  const counts = await Promise.all(
    texts.map((text) =>
      limit(() =>
        withRetry(
          'models.countTokens',
          async (info) => {
            const res = await conn.client.models.countTokens({
              model,
              contents: text,
              config: { abortSignal: info.signal, httpOptions: { fetch: observingFetch(info) } },
            });
            return res.totalTokens ?? 0;
          },
          COUNT_RETRY,
        ),
      ),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Average answer tokens per row of an online preview in the state directory, if there is one. */
async function previewTokens(stateDir: string): Promise<{ perRow: number; rows: number } | undefined> {
  try {
    const online = (await readRunStatus(stateDir)).online;
    if (!online || online.answered === 0) return undefined;
    return {
      perRow: (online.usage.outputTokens + online.usage.thoughtsTokens) / online.answered,
      rows: online.answered,
    };
  } catch {
    return undefined;
  }
}

export async function estimateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...JOB_FLAGS, sample: { type: 'string' }, 'output-tokens': { type: 'string' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(ESTIMATE_HELP);
    return EXIT.ok;
  }
  const sample = intFlag('sample', values.sample) ?? 50;
  const outputFlag = intFlag('output-tokens', values['output-tokens'], 0);
  const job: Job = await parseJob(values, { needEndpoint: false });
  const conn = job.endpoint ? await connect(job.endpoint) : undefined;
  try {
    let rows = 0;
    let unsendable = 0;
    let chars = 0;
    let heuristic = 0;
    let sampleChars = 0;
    const samples: string[] = [];
    for await (const row of openRows(job)) {
      rows++;
      let text: string;
      try {
        if (row[ROW_ERROR]) throw new Error('unreadable');
        text = (job.system?.render(row) ?? '') + job.prompt.render(row);
      } catch {
        unsendable++;
        continue;
      }
      chars += text.length;
      heuristic += Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN));
      if (samples.length < sample) {
        samples.push(text);
        sampleChars += text.length;
      }
    }
    const sendable = rows - unsendable;
    let inputTokens = heuristic;
    let method = `heuristic: ${CHARS_PER_TOKEN} characters per token (set GEMINI_API_KEY to count with the API)`;
    if (conn && samples.length > 0) {
      const counted = await countTokens(conn, job.model, samples);
      const all = samples.length === sendable;
      inputTokens = all
        ? counted
        : Math.round(counted + ((chars - sampleChars) * counted) / Math.max(1, sampleChars));
      method = all
        ? `countTokens on all ${count(sendable)} rows on ${conn.label}`
        : `countTokens on the first ${count(samples.length)} rows on ${conn.label}, scaled by characters`;
    }
    // A preview is an --online run: its derived state directory has no --limit suffix.
    const previewDir = job.stateDerived ? defaultStateDir({ ...job, online: true }) : job.stateDir;
    const preview = outputFlag === undefined ? await previewTokens(previewDir) : undefined;
    const outputPerRow = outputFlag ?? preview?.perRow ?? DEFAULT_OUTPUT_TOKENS;
    const outputBasis =
      outputFlag !== undefined
        ? '--output-tokens'
        : preview
          ? `the average of ${count(preview.rows)} preview answers in ${previewDir}`
          : `an assumption (--output-tokens N, or a preview with --online --limit 20, to do better)`;
    const outputTokens = Math.round(outputPerRow * sendable);
    const cost = estimateCost({ promptTokens: inputTokens, outputTokens }, job.model, job.prices);
    const fake = isFake(job.endpoint);
    if (job.json) {
      const report = {
        type: 'estimate',
        model: job.model,
        input: job.input,
        rows,
        sendable,
        unsendable,
        sampled: conn ? samples.length : 0,
        method: conn ? 'countTokens' : 'heuristic',
        inputTokens,
        outputTokens,
        outputTokensPerRow: outputPerRow,
        outputBasis: outputFlag !== undefined ? 'flag' : preview ? 'preview' : 'assumed',
        cost,
        prices: { date: job.prices.date, source: job.prices.source },
        fake,
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return EXIT.ok;
    }
    const per = (n: number) => (sendable > 0 ? ` (${(n / sendable).toFixed(1)} per row)` : '');
    const lines = [
      `Estimate for ${job.model} on ${job.input}: ${count(rows)} rows${unsendable ? `, ${count(unsendable)} that cannot be sent` : ''}.`,
      `Input tokens:  ${count(inputTokens)}${per(inputTokens)} — ${method}.`,
      `Output tokens: ${count(outputTokens)}${per(outputTokens)} — ${outputBasis}.`,
      `Cost: ${usd(cost.batchUsd)} at batch price, ${usd(cost.interactiveUsd)} at interactive price.`,
      `Prices: ${cost.model}${cost.fallback ? ` (${job.model} is not in the table)` : ''}, as of ${job.prices.date} from ${job.prices.source}.`,
    ];
    if (fake) lines.push(FAKE_BANNER);
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await conn?.close();
  }
}
