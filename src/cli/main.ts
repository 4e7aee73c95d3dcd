// The `gemini-batch` command: dispatches to one module per sub-command.

import { emulatorCommand } from './emulator.js';
import { UsageError } from './usage.js';

const HELP = `Usage: gemini-batch <command> [options]

Commands:
  emulator   run the local Gemini Files + Batch API emulator

Run 'gemini-batch <command> --help' for a command's options.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  emulator: emulatorCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`gemini-batch: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gemini-batch ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`gemini-batch ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return 3;
  }
}
