// Shared by the toRequests tests: the REST request a plain prompt becomes, and a row carrying its
// source line the way a source emits it.

import { ROW_LINE } from '../../src/types.js';

export const user = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

/** A row as a source would emit it, with its line attached. */
export function at<R extends object>(line: number, row: R): R {
  (row as any)[ROW_LINE] = line;
  return row;
}
