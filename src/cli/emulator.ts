// `gemini-batch emulator`: the Files + Batch API emulator as a standalone server.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type FaultOptions, parseFaultOptions, startEmulator } from '../emulator/index.js';
import { intFlag, UsageError } from './usage.js';

export const EMULATOR_HELP = `Usage: gemini-batch emulator [options]

Serves a local emulator of the Gemini Files and Batch REST API (and generateContent /
countTokens) for the real @google/genai SDK. Prints its base URL on the first line of stdout.

Options:
  --port N               port to listen on (default 8788; 0 picks a free one)
  --host H               interface to bind (default 127.0.0.1)
  --dir DIR              keep files and jobs in DIR, so a restart sees them (default: a temp dir)
  --api-key KEY          accept only this key (default: any non-empty key)
  --pending-ms N         time each job stays PENDING (default 0)
  --running-ms N         least time each job spends RUNNING (default 0)
  --expire-after-ms N    jobs older than this end EXPIRED (default 48 h)
  --file-ttl-ms N        files are deleted after this (default 48 h)
  --max-active-batches N concurrent PENDING/RUNNING jobs before create answers 429 (default 100)
  --max-file-bytes N     largest upload accepted (default 2 GiB)
  --storage-limit-bytes N
                         all files together; past it an upload answers 429 (default 20 GiB)
  --enqueued-token-limit N
                         prompt tokens of active jobs per model; past it create answers 429
                         (default unlimited)
  --faults FILE|JSON     fault knobs: a FaultOptions JSON file, or the JSON itself
                         ({"seed", "http": [rules], "jobs": [rules], "random": {...}});
                         change them later with POST /_emulator/faults
  --fault-seed N         seed for rate-based and random faults (default 1)
  --fault-rate R         random transient faults on R (0..1) of all API calls: 503, 429,
                         500, dropped connections, creates accepted but not answered,
                         cut downloads and upload chunks (shorthand for "random": {"rate": R})
  --verbose              log every request (never the API key) to stderr
  -h, --help             show this help

Faults applied so far are listed by GET /_emulator/stats (faultsApplied).

Examples:
  gemini-batch emulator --port 8788 --dir .emulator --pending-ms 2000 --running-ms 5000
  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8788 GEMINI_API_KEY=any node my-script.js
  gemini-batch emulator --fault-rate 0.05 --fault-seed 7
  gemini-batch emulator --faults '{"http":[{"route":"batches.create","nth":1,"action":{"type":"dropAfter"}}],
                                   "jobs":[{"nth":2,"effect":{"type":"end","state":"FAILED"}}]}'
`;

const int = (name: string, value: string | undefined) => intFlag(name, value, 0);

function faultsFrom(
  spec: string | undefined,
  seed: string | undefined,
  rate: string | undefined,
): FaultOptions | undefined {
  if (spec === undefined && seed === undefined && rate === undefined) return undefined;
  let faults: Record<string, unknown> = {};
  if (spec !== undefined) {
    let text = spec;
    if (!spec.trim().startsWith('{')) {
      try {
        text = readFileSync(spec, 'utf8');
      } catch (err) {
        throw new UsageError(`--faults: cannot read ${spec}: ${(err as Error).message}`);
      }
    }
    try {
      faults = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--faults: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof faults !== 'object' || faults === null || Array.isArray(faults))
      throw new UsageError('--faults: expected a JSON object (FaultOptions)');
  }
  if (seed !== undefined) {
    const n = Number(seed);
    if (!Number.isInteger(n)) throw new UsageError(`--fault-seed must be a whole number, got "${seed}"`);
    faults.seed = n;
  }
  if (rate !== undefined) {
    const r = Number(rate);
    if (rate.trim() === '' || !(r >= 0 && r <= 1))
      throw new UsageError(`--fault-rate must be a number from 0 to 1, got "${rate}"`);
    faults.random = { ...(faults.random as object | undefined), rate: r };
  }
  try {
    return parseFaultOptions(faults);
  } catch (err) {
    throw new UsageError(`--faults: ${(err as Error).message}`);
  }
}

export async function emulatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      dir: { type: 'string' },
      'api-key': { type: 'string' },
      'pending-ms': { type: 'string' },
      'running-ms': { type: 'string' },
      'expire-after-ms': { type: 'string' },
      'file-ttl-ms': { type: 'string' },
      'max-active-batches': { type: 'string' },
      'max-file-bytes': { type: 'string' },
      'storage-limit-bytes': { type: 'string' },
      'enqueued-token-limit': { type: 'string' },
      faults: { type: 'string' },
      'fault-seed': { type: 'string' },
      'fault-rate': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(EMULATOR_HELP);
    return 0;
  }
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const options = defined({
    port: int('port', values.port) ?? 8788,
    host: values.host,
    dir: values.dir,
    apiKey: values['api-key'],
    pendingMs: int('pending-ms', values['pending-ms']),
    runningMs: int('running-ms', values['running-ms']),
    expireAfterMs: int('expire-after-ms', values['expire-after-ms']),
    fileTtlMs: int('file-ttl-ms', values['file-ttl-ms']),
    maxActiveBatches: int('max-active-batches', values['max-active-batches']),
    maxFileBytes: int('max-file-bytes', values['max-file-bytes']),
    storageLimitBytes: int('storage-limit-bytes', values['storage-limit-bytes']),
    enqueuedTokenLimit: int('enqueued-token-limit', values['enqueued-token-limit']),
    faults: faultsFrom(values.faults, values['fault-seed'], values['fault-rate']),
    log: values.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined,
  });
  const emulator = await startEmulator(options).catch((err: unknown) => {
    // Values the flags' own checks let through (e.g. 0 where only a positive number works).
    if (err instanceof TypeError && err.message.startsWith('Invalid emulator options'))
      throw new UsageError(err.message);
    throw err;
  });
  process.stdout.write(`${emulator.baseUrl}\n`);
  process.stderr.write(
    `Gemini emulator listening on ${emulator.baseUrl} (state in ${emulator.dir}).\n` +
      `Point the SDK at it: new GoogleGenAI({ apiKey: 'any', httpOptions: { baseUrl: '${emulator.baseUrl}' } })\n` +
      `or set GOOGLE_GEMINI_BASE_URL=${emulator.baseUrl}. Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emulator.close();
  return 0;
}
