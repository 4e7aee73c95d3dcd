// The paths a run writes, checked before anything is sent: --out is not the input under another
// name, and --out and --state can be used. A run that can only fail at its end must not pay first.

import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
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

const errorText = (err: unknown): string => (err as Error).message;

/**
 * The --out file can be written: its nearest existing folder is a folder we may write in, and the
 * file itself is not a folder. Else the run would fail at its end, after its jobs were paid for.
 */
export function checkOutUsable(out: string): void {
  const target = resolve(out);
  if (existsSync(target) && statSync(target).isDirectory())
    throw new UsageError(`--out ${out} is a folder: name a .jsonl or .csv file`);
  let folder = dirname(target);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(folder).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = dirname(folder);
      // Not there yet: the sink creates it, if the folder above it can hold it.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== folder) {
        folder = parent;
        continue;
      }
      throw new UsageError(`--out ${out}: cannot use the folder ${folder}: ${errorText(err)}`);
    }
    if (!isDir)
      throw new UsageError(`--out ${out}: ${folder} is a file, so the output's folder cannot be made there`);
    try {
      accessSync(folder, constants.W_OK);
    } catch (err) {
      throw new UsageError(`--out ${out}: cannot write in the folder ${folder}: ${errorText(err)}`);
    }
    return;
  }
}

/** The state directory is a directory, or can be made one. */
export function checkStateUsable(stateDir: string, derived: boolean): void {
  const name = derived ? `the state directory ${stateDir} (--state DIR sets another)` : `--state ${stateDir}`;
  if (existsSync(stateDir) && !statSync(stateDir).isDirectory())
    throw new UsageError(`${name} is a file, not a directory`);
}

/** Runs a file operation on the state directory; a path that cannot be used there is bad usage. */
export function onStateDir<T>(stateDir: string, what: () => T): T {
  try {
    return what();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && ['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR'].includes(code))
      throw new UsageError(`the state directory ${stateDir} cannot be used: ${errorText(err)}`);
    throw err;
  }
}
