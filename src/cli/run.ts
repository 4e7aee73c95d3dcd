// `gemini-batch run`: a CSV or NDJSON file and a prompt template → one answer per row, through
// batch jobs (half price) or, with --online, interactive calls (previews). Built on the public API.

import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  type BatchResult,
  type CostEstimate,
  csvSink,
  GbsError,
  geminiBatch,
  geminiOnline,
  jsonlSink,
  type ProgressEvent,
  type RunSummary,
  type SourceRow,
  summaryCost,
  toRequests,
} from '../index.js';
import { claimStateDir, connect, FAKE_BANNER, isFake } from './endpoint.js';
import { count, duration, shellWord, usd } from './format.js';
import { JOB_FLAGS, type Job, keyOf, openRows, parseJob, requestBuilder } from './job.js';
import { checkOutUsable, checkStateUsable } from './paths.js';
import { ProgressView, progressMode } from './progress.js';
import { EXIT } from './usage.js';

export const RUN_HELP = `Usage: gemini-batch run --input FILE --prompt TEXT [options]

Sends every row of a CSV or NDJSON file through a Gemini model as Batch API jobs (half the
interactive price; jobs take minutes to hours) and writes one result per row. With --online,
sends each row with an interactive generateContent call instead: for previews and small jobs.

Input and prompt:
  -i, --input FILE             the rows: .csv, .tsv, .ndjson or .jsonl
      --format F               csv | tsv | ndjson (default: from the extension)
  -p, --prompt TEXT            the prompt; {{column}} (or {{ column }}) is replaced by the row's value
      --prompt-file FILE       the prompt, from a file
      --system TEXT            a system instruction (placeholders allowed)
      --key COLUMN             the column that identifies a row (default: the row's number)
      --schema FILE            a JSON Schema: answers are JSON of that shape, checked, in "output"
      --limit N                only the first N rows
Model and output:
  -m, --model NAME             default gemini-2.5-flash
  -o, --out FILE               .jsonl or .csv (default: <input>.out.jsonl)
      --state DIR              the resume point (default .gemini-batch/<input>-<hash of input,
                               prompt, system, model, schema, key, format, requests per job>,
                               under the current directory; printed at start)
Batch jobs:
      --max-requests-per-job N rows per job (default 20000)
      --max-concurrent-jobs N  jobs in flight at once (default 4)
Online mode:
      --online                 interactive calls instead of batch jobs (interactive price)
      --concurrency N          requests in flight at once (default 8)
Where requests go (one is required):
      GEMINI_API_KEY=…         the Gemini API (billed)
      --emulator               the built-in emulator, in this process: FAKE answers, free
      --emulator-url URL       an emulator already running (gemini-batch emulator): FAKE answers
Output:
      --json                   progress and the summary as JSON lines on stdout
      --prices FILE            a JSON price table for the cost lines (see the README)
  -h, --help                   show this help

A column a placeholder or --key names must exist (the CSV header, or the first NDJSON row): else
nothing is sent and the exit code is 2. Progress and the summary go to stderr (stdout stays free
for --json). Ctrl-C stops cleanly: jobs already created keep running, and the same command again
resumes from the state directory without paying twice.

Exit codes: 0 every row succeeded; 1 finished, with error records in the output; 2 bad usage;
3 the run failed; 130 stopped by Ctrl-C, 143 by SIGTERM.

Examples:
  gemini-batch run --input reviews.csv --prompt 'Classify the sentiment of: {{review}}' \\
    --model gemini-2.5-flash --key id --out reviews.out.jsonl
  gemini-batch run --online --limit 20 --input reviews.csv --prompt-file prompt.txt --emulator
  gemini-batch run --input tickets.ndjson --prompt 'Summarise: {{body}}' --schema summary.json \\
    --out tickets.out.csv --max-requests-per-job 5000
`;

/** Counts rows as they are read, for the progress display. */
async function* counted(rows: AsyncIterable<SourceRow>, view: ProgressView): AsyncGenerator<SourceRow> {
  for await (const row of rows) {
    view.rowRead();
    yield row;
  }
}

function summaryText(
  s: RunSummary,
  cost: CostEstimate,
  job: Job,
  elapsedMs: number,
  fake: boolean,
): string[] {
  const codes = Object.entries(s.failedByCode)
    .map(([code, n]) => `${code} ${count(n as number)}`)
    .join(', ');
  const lines = [
    `Done in ${duration(elapsedMs)}: ${count(s.rows)} rows, ${count(s.succeeded)} succeeded, ${count(s.failed)} failed${codes ? ` (${codes})` : ''}.`,
  ];
  if (!job.online) {
    const adopted = s.jobsAdopted ? `, ${count(s.jobsAdopted)} found again` : '';
    lines.push(
      `Jobs: ${count(s.jobsCreated)} created by this run${adopted}, for ${count(s.chunks)} chunk(s).`,
    );
  }
  const u = s.usage;
  lines.push(
    `Tokens: ${count(u.promptTokens)} in (${count(u.cachedTokens)} cached), ${count(u.outputTokens)} out, ${count(u.thoughtsTokens)} thinking.`,
  );
  const prices = `${cost.model} prices of ${cost.pricesDate}, illustrative`;
  lines.push(
    job.online
      ? `Cost: ${usd(cost.interactiveUsd)} at interactive price (online mode); ${usd(cost.batchUsd)} as a batch run (${prices}).`
      : `Cost: ${usd(cost.batchUsd)} at batch price; ${usd(cost.interactiveUsd)} had it been sent interactively (${prices}).`,
  );
  if (cost.fallback)
    lines.push(`  ${job.model} is not in the price table: priced as ${cost.model} (--prices FILE sets it).`);
  const a = s.anomalies;
  if (a.unknownKeys + a.duplicateKeys + a.malformedLines > 0) {
    lines.push(
      `Result anomalies: ${a.unknownKeys} unknown keys, ${a.duplicateKeys} duplicate answers, ${a.malformedLines} unreadable lines.`,
    );
  }
  lines.push(`Output: ${job.out}`);
  if (fake) lines.push(FAKE_BANNER);
  return lines;
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: JOB_FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return EXIT.ok;
  }
  const job = await parseJob(values, { needEndpoint: true });
  const endpoint = job.endpoint as NonNullable<Job['endpoint']>;
  const fake = isFake(endpoint);
  // A path the run could only fail on at its end is refused before anything is sent.
  checkOutUsable(job.out);
  checkStateUsable(job.stateDir, job.stateDerived);
  claimStateDir(job.stateDir, endpoint);
  const view = new ProgressView(progressMode(job.json), job.online);
  // The in-process emulator keeps batch jobs in the state directory, so a rerun finds them again.
  const conn = await connect(
    endpoint,
    endpoint.kind === 'emulator' && !job.online ? join(job.stateDir, 'emulator') : undefined,
  );
  const started = Date.now();
  const mode = job.online ? `online requests (${job.concurrency} at a time)` : 'batch jobs';
  view.json({
    type: 'start',
    command: 'run',
    mode: job.online ? 'online' : 'batch',
    input: job.input,
    out: job.out,
    model: job.model,
    stateDir: job.stateDir,
    endpoint: conn.label,
    fake,
  });
  view.say(`gemini-batch run: ${job.input} → ${job.out} with ${job.model}, ${mode} on ${conn.label}`);
  view.say(
    `State: ${job.stateDir}${job.stateDerived ? ' (derived from the input, prompt, model and chunking)' : ''}`,
  );
  if (fake) view.say(FAKE_BANNER);

  const stop = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const exitFor = (signal: NodeJS.Signals) => (signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(exitFor(signal)); // a second Ctrl-C: no more waiting
    interrupted = signal;
    view.note(`${signal}: stopping… (again to quit at once)`);
    stop.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let summary: RunSummary | undefined;
  const onProgress = (e: ProgressEvent) => {
    view.event(e);
    if (e.type === 'done') summary = e.summary;
  };
  const common = { model: job.model, client: conn.client, signal: stop.signal, onProgress };
  const outputSchema = job.schema ? { outputSchema: job.schema.zod } : {};
  const key = keyOf(job);
  try {
    // Built inside the try: an option the library refuses must still close the emulator and the
    // signal handlers below, or the process would never exit.
    const stage = job.online
      ? geminiOnline({ ...common, ...outputSchema, concurrency: job.concurrency, stateDir: job.stateDir })
      : geminiBatch({
          ...common,
          ...outputSchema,
          stateDir: job.stateDir,
          ...(job.maxRequestsPerJob ? { maxRequestsPerJob: job.maxRequestsPerJob } : {}),
          ...(job.maxConcurrentJobs ? { maxConcurrentJobs: job.maxConcurrentJobs } : {}),
          ...(conn.fast ? { pollIntervalMs: { initial: 100, max: 500 } } : {}),
        });
    await pipeline(
      Readable.from(counted(openRows(job), view)),
      toRequests(requestBuilder(job), key ? { key } : {}),
      stage,
      new Transform({
        objectMode: true,
        transform(result: BatchResult, _encoding, callback) {
          view.result(result);
          callback(null, result);
        },
      }),
      job.outFormat === 'csv' ? csvSink(job.out) : jsonlSink(job.out),
    );
  } catch (err) {
    view.finish();
    if (!interrupted) {
      if (err instanceof GbsError && err.code === 'GBS_STATE_MISMATCH') {
        throw new GbsError(
          err.code,
          `${err.message}\nWith the CLI: pass another --state DIR, or remove ${job.stateDir} to start over.`,
        );
      }
      throw err;
    }
    const again = `gemini-batch ${process.argv.slice(2).map(shellWord).join(' ')}`;
    view.json({ type: 'stopped', signal: interrupted, stateDir: job.stateDir, resume: again });
    const kept = job.online
      ? `Rows answered so far are kept in ${join(job.stateDir, 'online')}; a rerun sends only the others.`
      : endpoint.kind === 'emulator'
        ? `The emulator's jobs are kept in ${join(job.stateDir, 'emulator')} and carry on when you rerun.`
        : `Jobs already created keep running on ${conn.label}; a rerun collects them (none is created twice).`;
    view.say(
      `Stopped (${interrupted}). ${kept}\nTo resume, run the same command again:\n  ${again}\nState: ${job.stateDir}`,
      true,
    );
    return exitFor(interrupted);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await conn.close();
  }
  view.finish();
  if (!summary) throw new Error('the run ended without a summary');
  const exitCode = summary.failed > 0 ? EXIT.errorRecords : EXIT.ok;
  const cost = summaryCost(summary, job.model, job.prices);
  view.json({
    type: 'summary',
    summary,
    cost,
    mode: job.online ? 'online' : 'batch',
    out: job.out,
    stateDir: job.stateDir,
    fake,
    exitCode,
  });
  for (const line of summaryText(summary, cost, job, Date.now() - started, fake)) view.say(line);
  return exitCode;
}
