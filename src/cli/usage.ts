// Bad command-line usage: exit code 2 with a message naming the flag. And the exit codes.

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The exit codes of every command (documented in `gemini-batch --help` and the README). */
export const EXIT = {
  /** Done; every row succeeded. */
  ok: 0,
  /** The run finished, with error records in the output. */
  errorRecords: 1,
  /** Bad usage: an unknown or bad flag, a missing column, no API key and no emulator. */
  usage: 2,
  /** The run failed (an API error after retries, a state that cannot be used…). */
  failed: 3,
  /** Stopped by Ctrl-C (SIGINT); the same command resumes. */
  interrupted: 130,
  /** Stopped by SIGTERM (a container or service stop), the same clean stop as Ctrl-C. */
  terminated: 143,
} as const;

/** A whole number flag, at least `min`. */
export function intFlag(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be a whole number from ${min} up, got "${value}"`);
  return n;
}
