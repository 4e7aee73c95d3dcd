// The paths a run writes, checked before anything is sent: --out is not the input under another
// name, and --out and --state can be used. A run that can only fail at its end must not pay first.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from './usage.js';

/**
 * Whether `out` names the file `input` is (which must exist): through a symlink, `..`, a hard
 * link, or another spelling of the name on a case-insensitive file system.
 */
export function sameFile(input: string, out: string): boolean {
  const inReal = realpathSync(input);
  if (existsSync(out)) {
    if (realpathSync(out) === inReal) return true;
    // Hard links and case-insensitive names have different paths but one inode.
    const a = statSync(input);
    const b = statSync(out);
    return a.dev === b.dev && a.ino === b.ino;
  }
  let folder: string;
  try {
    folder = realpathSync(dirname(resolve(out)));
  } catch {
    return false; // no such folder: the output cannot be an existing file
  }
  return resolve(folder, basename(out)) === inReal;
}

/** Throws UsageError (exit 2) when --out would write over the input. */
export function checkOutNotInput(input: string, out: string): void {
  if (resolve(out) === resolve(input) || sameFile(input, out))
    throw new UsageError(
      `--out ${out} is the input file ${input} (under another name): the results would replace the rows`,
    );
}
