// Bad command-line usage: exit code 2 with a message naming the flag.

export class UsageError extends Error {
  override name = 'UsageError';
}
