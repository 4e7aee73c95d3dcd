// Sources accept a path or any Readable; this opens the one and passes the other through.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { GbsError } from '../errors.js';

export type PathOrReadable = string | URL | Readable;

export function openInput(input: PathOrReadable, option: string): Readable {
  if (typeof input === 'string' || input instanceof URL) return createReadStream(input);
  if (input && typeof (input as Readable).pipe === 'function') return input;
  throw new GbsError(
    'GBS_INVALID_OPTION',
    `Expected \`${option}\` to be a file path or a Readable, got ${typeof input}`,
    {
      option,
    },
  );
}
