// The `gemini-batch` command: dispatches to one module per sub-command and turns what they end with
// into the documented exit codes.

import { GbsError } from '../index.js';
import { emulatorCommand } from './emulator.js';
import { estimateCommand } from './estimate.js';
import { runCommand } from './run.js';
import { cancelCommand, statusCommand } from './status.js';
import { EXIT, UsageError } from './usage.js';

const HELP = `Usage: gemini-batch <command> [options]

Commands:
  run        send every row of a CSV / NDJSON file through a Gemini model (batch jobs, or --online)
  estimate   project a run's tokens and cost, at batch and at interactive price
  status     show a run's chunks, jobs and progress from its state directory
  cancel     cancel a run's jobs that are still running
  emulator   run the local Gemini Files + Batch API emulator

Run 'gemini-batch <command> --help' for a command's options and examples.

Exit codes: 0 done (every row succeeded); 1 the run finished with error records; 2 bad usage;
3 failed; 130 stopped by Ctrl-C, 143 by SIGTERM (rerun the same command to resume).

Example:
  gemini-batch run --input reviews.csv --prompt 'Classify the sentiment of: {{review}}' --emulator
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  estimate: estimateCommand,
  status: statusCommand,
  cancel: cancelCommand,
  emulator: emulatorCommand,
};

/**
 * A reader that went away (`gemini-batch run --json | head -1`) makes writes to stdout fail with
 * EPIPE: without a listener that is an uncaught error. The run itself goes on to its --out file.
 */
function quietOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  quietOnBrokenPipe();
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`gemini-batch: unknown command "${command}"\n\n${HELP}`);
    return EXIT.usage;
  }
  try {
    return await run(rest);
  } catch (err) {
    const usage =
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ||
      (err instanceof GbsError && (err.code === 'GBS_INVALID_OPTION' || err.code === 'GBS_NO_API_KEY'));
    if (usage) {
      process.stderr.write(`gemini-batch ${command}: ${(err as Error).message}\n`);
      if (!(err instanceof UsageError))
        process.stderr.write(`Run 'gemini-batch ${command} --help' for the flags.\n`);
      return EXIT.usage;
    }
    const message =
      err instanceof GbsError ? `${err.code}: ${err.message}` : ((err as Error).stack ?? String(err));
    process.stderr.write(`gemini-batch ${command} failed: ${message}\n`);
    return EXIT.failed;
  }
}
