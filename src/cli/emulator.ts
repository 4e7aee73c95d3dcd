// `gemini-batch emulator`: the Files + Batch API emulator as a standalone server.

import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/index.js';
import { UsageError } from './usage.js';

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
  --verbose              log every request (never the API key) to stderr
  -h, --help             show this help

Examples:
  gemini-batch emulator --port 8788 --dir .emulator --pending-ms 2000 --running-ms 5000
  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8788 GEMINI_API_KEY=any node my-script.js
`;

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number from 0 up, got "${value}"`);
  return n;
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
  const emulator = await startEmulator(
    defined({
      port: int('port', values.port) ?? 8788,
      host: values.host,
      dir: values.dir,
      apiKey: values['api-key'],
      pendingMs: int('pending-ms', values['pending-ms']),
      runningMs: int('running-ms', values['running-ms']),
      expireAfterMs: int('expire-after-ms', values['expire-after-ms']),
      fileTtlMs: int('file-ttl-ms', values['file-ttl-ms']),
      maxActiveBatches: int('max-active-batches', values['max-active-batches']),
      log: values.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined,
    }),
  );
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
