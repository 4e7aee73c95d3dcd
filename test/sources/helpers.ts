// Shared by the source tests: what a source yields, as plain data, and the same bytes given to a
// source as a file path and as a Readable.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { ROW_ERROR, rowLine } from '../../src/types.js';

export type Out = { line: number | undefined; data?: Record<string, unknown>; error?: unknown };

/** Every row the source yields: its data (string keys only), its line, and its read error if any. */
export async function collect(source: AsyncIterable<any>): Promise<Out[]> {
  const out: Out[] = [];
  for await (const row of source) {
    const error = row[ROW_ERROR];
    out.push(
      error
        ? { line: rowLine(row), error }
        : { line: rowLine(row), data: Object.fromEntries(Object.entries(row)) },
    );
  }
  return out;
}

export const ok = (line: number, data: Record<string, unknown>): Out => ({ line, data });
export const bad = (line: number, message: RegExp): Out => ({
  line,
  error: { stage: 'read', code: 'GBS_INPUT_PARSE', line, message: expect.stringMatching(message) },
});

export const bytes = (...parts: Array<string | number[] | Buffer>): Buffer[] =>
  parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)));

/**
 * The same bytes given to `source` as a file path (`fileName` in a fresh `temp()` dir) and as a
 * Readable (the Readable keeps the chunk boundaries).
 */
export function inputModes<O>(
  source: (input: string | Readable, options?: O) => Readable,
  fileName: string,
  temp: () => string,
) {
  return [
    {
      mode: 'path',
      open: (chunks: Buffer[], options?: O) => {
        const path = join(temp(), fileName);
        writeFileSync(path, Buffer.concat(chunks));
        return source(path, options);
      },
    },
    {
      mode: 'Readable',
      open: (chunks: Buffer[], options?: O) => source(Readable.from(chunks), options),
    },
  ];
}
