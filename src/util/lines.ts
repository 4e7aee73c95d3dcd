// Reading JSONL files line by line, knowing each line's byte offset (so a line can be read again
// later by position), with bounded memory: one read buffer plus the line being assembled.

import { open } from 'node:fs/promises';

export interface LineAt {
  text: string;
  offset: number;
  /** Bytes of the line, without its newline. */
  length: number;
}

const READ_SIZE = 1024 * 1024;

/** Yields each non-empty line of a file with its byte offset. A final line without `\n` counts too. */
export async function* linesWithOffsets(path: string): AsyncGenerator<LineAt> {
  const handle = await open(path, 'r');
  try {
    let carry: Buffer | undefined;
    let carryOffset = 0;
    let position = 0;
    const buf = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, READ_SIZE, position);
      if (bytesRead === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(10, start)) {
        let bytes: Buffer;
        let offset: number;
        if (carry) {
          bytes = Buffer.concat([carry, buf.subarray(start, nl)]);
          offset = carryOffset;
          carry = undefined;
        } else {
          bytes = buf.subarray(start, nl);
          offset = position + start;
        }
        const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
        if (end > 0) yield { text: bytes.toString('utf8', 0, end), offset, length: bytes.length };
        start = nl + 1;
      }
      if (start < bytesRead) {
        const rest = Buffer.from(buf.subarray(start, bytesRead));
        if (carry) carry = Buffer.concat([carry, rest]);
        else {
          carry = rest;
          carryOffset = position + start;
        }
      }
      position += bytesRead;
    }
    if (carry && carry.length > 0)
      yield { text: carry.toString('utf8'), offset: carryOffset, length: carry.length };
  } finally {
    await handle.close();
  }
}

/** Reads lines by (offset, length), with a read-ahead window so in-order reads stay sequential. */
export class PositionalReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  private constructor(private readonly handle: import('node:fs/promises').FileHandle) {}

  static async open(path: string): Promise<PositionalReader> {
    return new PositionalReader(await open(path, 'r'));
  }

  async read(offset: number, length: number): Promise<string> {
    const end = offset + length;
    if (offset < this.windowStart || end > this.windowStart + this.window.length) {
      const size = Math.max(length, READ_SIZE);
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.handle.read(buf, 0, size, offset);
      this.window = buf.subarray(0, bytesRead);
      this.windowStart = offset;
    }
    const from = offset - this.windowStart;
    let to = from + length;
    if (to > from && this.window[to - 1] === 13) to--;
    return this.window.toString('utf8', from, to);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
