// The flags `run` and `estimate` share, turned into one checked job description: the input and its
// format, the prompt templates, the model, the output, the state directory. Every check that can
// fail here fails before anything is sent.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { z } from 'zod';
import {
  csvSource,
  DEFAULT_PRICES,
  loadPrices,
  ndjsonSource,
  type PriceTable,
  type RequestSpec,
  ROW_ERROR,
  type SourceRow,
} from '../index.js';
import { type Endpoint, endpointFrom, isFake } from './endpoint.js';
import { checkOutNotInput } from './paths.js';
import { checkColumns, columnValue, compileTemplate, type Template } from './template.js';
import { intFlag, UsageError } from './usage.js';

export const JOB_FLAGS = {
  input: { type: 'string', short: 'i' },
  format: { type: 'string' },
  prompt: { type: 'string', short: 'p' },
  'prompt-file': { type: 'string' },
  system: { type: 'string' },
  key: { type: 'string' },
  schema: { type: 'string' },
  model: { type: 'string', short: 'm' },
  out: { type: 'string', short: 'o' },
  state: { type: 'string' },
  limit: { type: 'string' },
  'max-requests-per-job': { type: 'string' },
  'max-concurrent-jobs': { type: 'string' },
  online: { type: 'boolean' },
  concurrency: { type: 'string' },
  emulator: { type: 'boolean' },
  'emulator-url': { type: 'string' },
  prices: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type JobValues = {
  [K in keyof typeof JOB_FLAGS]?: (typeof JOB_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

export type InputFormat = 'csv' | 'tsv' | 'ndjson';

export const DEFAULT_MODEL = 'gemini-2.5-flash';

export interface Job {
  input: string;
  format: InputFormat;
  prompt: Template;
  system?: Template;
  key?: string;
  schema?: { json: Record<string, unknown>; zod: z.ZodType; text: string };
  model: string;
  out: string;
  outFormat: 'jsonl' | 'csv';
  stateDir: string;
  /** The state directory was derived, not given with --state. */
  stateDerived: boolean;
  limit?: number;
  maxRequestsPerJob?: number;
  maxConcurrentJobs?: number;
  online: boolean;
  concurrency: number;
  endpoint: Endpoint | undefined;
  prices: PriceTable;
  json: boolean;
}

function formatOf(input: string, flag: string | undefined): InputFormat {
  const name = flag ?? extname(input).slice(1).toLowerCase();
  if (name === 'csv' || name === 'tsv') return name;
  if (name === 'ndjson' || name === 'jsonl') return 'ndjson';
  if (flag !== undefined) throw new UsageError(`--format must be csv, tsv, ndjson or jsonl, got "${flag}"`);
  throw new UsageError(
    `cannot tell the format of --input ${input} from its extension: pass --format csv|tsv|ndjson`,
  );
}

function outFormatOf(out: string): 'jsonl' | 'csv' {
  const ext = extname(out).slice(1).toLowerCase();
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  throw new UsageError(`--out must end in .jsonl, .ndjson or .csv, got "${out}"`);
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}

function schemaFrom(path: string): NonNullable<Job['schema']> {
  const text = readText(path, '--schema');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--schema: ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UsageError(`--schema: ${path} must hold a JSON Schema object`);
  const { $schema: _drop, ...schema } = json as Record<string, unknown>;
  try {
    return { json: schema, zod: z.fromJSONSchema(schema as never), text: JSON.stringify(schema) };
  } catch (err) {
    throw new UsageError(
      `--schema: ${path} is not a JSON Schema this tool can check: ${(err as Error).message}`,
    );
  }
}

/**
 * `.gemini-batch/<input name>-<8 hex of sha256(input path, prompt, system, model, schema, and what
 * the chunks depend on: key, format, requests per job)>`, under the current directory. Settings
 * that change the chunks get a directory of their own rather than a GBS_STATE_MISMATCH.
 */
export function defaultStateDir(job: Omit<Job, 'stateDir' | 'stateDerived'>): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        resolve(job.input),
        job.prompt.text,
        job.system?.text ?? '',
        job.model,
        job.schema?.text ?? '',
        job.key ?? '',
        job.format,
        job.maxRequestsPerJob ?? 0,
      ]),
    )
    .digest('hex')
    .slice(0, 8);
  const name = basename(job.input, extname(job.input));
  // Fake answers never share a state with real ones; a batch run of the first N rows makes other chunks.
  const fake = isFake(job.endpoint) ? '-emulator' : '';
  const first = job.limit !== undefined && !job.online ? `-first${job.limit}` : '';
  return `.gemini-batch/${name}-${digest}${fake}${first}`;
}

/** Checks the flags and the input's columns. Throws UsageError (exit 2) on anything wrong. */
export async function parseJob(values: JobValues, options: { needEndpoint: boolean }): Promise<Job> {
  const input = values.input;
  if (!input) throw new UsageError('--input FILE is required (a .csv, .tsv, .ndjson or .jsonl file)');
  if (!existsSync(input) || !statSync(input).isFile())
    throw new UsageError(`--input: no such file: ${input}`);
  const format = formatOf(input, values.format);
  if (values.prompt !== undefined && values['prompt-file'] !== undefined)
    throw new UsageError('--prompt and --prompt-file: give one of them');
  const promptText =
    values.prompt ?? (values['prompt-file'] ? readText(values['prompt-file'], '--prompt-file') : undefined);
  if (!promptText?.trim())
    throw new UsageError("--prompt 'TEXT with {{column}}' (or --prompt-file FILE) is required");
  const prompt = compileTemplate(promptText, values.prompt !== undefined ? '--prompt' : '--prompt-file');
  const system = values.system !== undefined ? compileTemplate(values.system, '--system') : undefined;
  const model = values.model ?? DEFAULT_MODEL;
  if (!/^[\w.\-/]+$/.test(model)) throw new UsageError(`--model: not a model name: "${model}"`);
  const out = values.out ?? `${input.slice(0, input.length - extname(input).length)}.out.jsonl`;
  checkOutNotInput(input, out);
  const limit = intFlag('limit', values.limit);
  const concurrency = intFlag('concurrency', values.concurrency) ?? 8;
  if (values.concurrency !== undefined && !values.online)
    throw new UsageError('--concurrency applies to --online runs only (batch jobs: --max-concurrent-jobs)');
  for (const flag of ['max-requests-per-job', 'max-concurrent-jobs'] as const) {
    if (values.online && values[flag] !== undefined)
      throw new UsageError(`--${flag} applies to batch jobs, not to --online runs (--concurrency N)`);
  }
  let prices = DEFAULT_PRICES;
  if (values.prices !== undefined) {
    try {
      prices = loadPrices(values.prices);
    } catch (err) {
      throw new UsageError(`--prices: ${(err as Error).message}`);
    }
  }
  const partial = {
    input,
    format,
    prompt,
    ...(system ? { system } : {}),
    ...(values.key !== undefined ? { key: values.key } : {}),
    ...(values.schema !== undefined ? { schema: schemaFrom(values.schema) } : {}),
    model,
    out,
    outFormat: outFormatOf(out),
    ...(limit !== undefined ? { limit } : {}),
    ...defined('maxRequestsPerJob', intFlag('max-requests-per-job', values['max-requests-per-job'])),
    ...defined('maxConcurrentJobs', intFlag('max-concurrent-jobs', values['max-concurrent-jobs'])),
    online: values.online === true,
    concurrency,
    endpoint: endpointFrom(values, options.needEndpoint),
    prices,
    json: values.json === true,
  };
  await checkInputColumns(partial);
  const stateDir = values.state ?? defaultStateDir(partial);
  return { ...partial, stateDir, stateDerived: values.state === undefined };
}

function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * TSV as IANA's text/tab-separated-values defines it: a field holds no tab or newline, and a quote
 * is a character like any other (CSV's quoting would merge `5" screen` with the lines after it).
 */
const TSV = { delimiter: '\t', quote: false } as const;

/** The rows of the input (the first `limit` of them), each knowing its line. */
export function openRows(job: Pick<Job, 'input' | 'format' | 'limit'>): AsyncIterable<SourceRow> {
  const source =
    job.format === 'ndjson' ? ndjsonSource(job.input) : csvSource(job.input, job.format === 'tsv' ? TSV : {});
  if (job.limit === undefined) return source;
  const limit = job.limit;
  return (async function* () {
    let n = 0;
    for await (const row of source) {
      yield row;
      if (++n >= limit) break;
    }
  })();
}

/** Every placeholder and --key must name a column: the CSV header, or the first readable NDJSON row. */
async function checkInputColumns(
  job: Pick<Job, 'input' | 'format' | 'prompt' | 'system' | 'key'>,
): Promise<void> {
  const uses = [
    ...job.prompt.columns.map((column) => ({ flag: '--prompt', column })),
    ...(job.system?.columns ?? []).map((column) => ({ flag: '--system', column })),
    ...(job.key !== undefined ? [{ flag: '--key', column: job.key }] : []),
  ];
  if (job.format === 'ndjson') {
    let first: SourceRow | undefined;
    let seen = 0;
    for await (const row of ndjsonSource(job.input) as AsyncIterable<SourceRow>) {
      if (!row[ROW_ERROR]) {
        first = row;
        break;
      }
      if (++seen >= 100) break;
    }
    if (!first) {
      if (seen === 0) return; // an empty file: no row to send, no column to miss
      throw new UsageError(
        `--input ${job.input}: none of its first ${seen} lines is a JSON object, so the placeholders cannot be checked`,
      );
    }
    const row = first;
    checkColumns(uses, (c) => columnValue(row, c).found, `The first row of ${job.input}`, Object.keys(row));
    return;
  }
  let header: string[] | undefined;
  const options = { columns: false, ...(job.format === 'tsv' ? TSV : {}) } as const;
  for await (const record of csvSource(job.input, options) as AsyncIterable<SourceRow<never>>) {
    if ((record as SourceRow)[ROW_ERROR])
      throw new UsageError(`--input ${job.input}: cannot read its header row`);
    header = (record as unknown as unknown[]).map(String);
    break;
  }
  if (!header)
    throw new UsageError(`--input ${job.input} is empty: a CSV needs a header row naming its columns`);
  const names = new Set(header);
  checkColumns(uses, (c) => names.has(c), `The header of ${job.input}`, header);
}

/** What each row becomes: the prompt (and system instruction, schema) as the SDK's `{ contents, config }`. */
export function requestBuilder(
  job: Pick<Job, 'prompt' | 'system' | 'schema'>,
): (row: Record<string, unknown>) => RequestSpec {
  return (row) => {
    const contents = job.prompt.render(row);
    const config: Record<string, unknown> = {};
    if (job.system) config.systemInstruction = job.system.render(row);
    if (job.schema) {
      config.responseMimeType = 'application/json';
      config.responseJsonSchema = job.schema.json;
    }
    return Object.keys(config).length > 0 ? { contents, config } : contents;
  };
}

/** The row's key from --key (an empty value makes the row an error record), or its ordinal. */
export function keyOf(job: Pick<Job, 'key'>): ((row: Record<string, unknown>) => unknown) | undefined {
  const column = job.key;
  return column === undefined ? undefined : (row) => columnValue(row, column).value;
}
