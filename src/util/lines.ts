// Reading JSONL files line by line, knowing each line's byte offset (so a line can be read again
// later by position), with bounded memory: one read buffer plus the line being assembled.

import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** A line as bytes: `buf[start, end)` (without `\r\n`), at `offset` in the file, `length` bytes with any `\r`. */
export interface RawLine {
  buf: Buffer;
  start: number;
  end: number;
  offset: number;
  length: number;
}

const READ_SIZE = 256 * 1024;

/** Yields each non-empty line of a file as bytes, with its offset; nothing is decoded. */
export async function* rawLines(path: string): AsyncGenerator<RawLine> {
  const handle = await open(path, 'r');
  try {
    let carry: Buffer | undefined;
    let carryOffset = 0;
    let position = 0;
    const buf = Buffer.allocUnsafe(READ_SIZE);
    const line: RawLine = { buf, start: 0, end: 0, offset: 0, length: 0 };
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, READ_SIZE, position);
      if (bytesRead === 0) break;
      let from = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(10, from)) {
        if (carry) {
          line.buf = Buffer.concat([carry, buf.subarray(from, nl)]);
          line.start = 0;
          line.length = line.buf.length;
          line.offset = carryOffset;
          carry = undefined;
        } else {
          line.buf = buf;
          line.start = from;
          line.length = nl - from;
          line.offset = position + from;
        }
        line.end = line.start + line.length;
        if (line.end > line.start && line.buf[line.end - 1] === 13) line.end--;
        if (line.end > line.start) yield line;
        from = nl + 1;
      }
      if (from < bytesRead) {
        const rest = Buffer.from(buf.subarray(from, bytesRead));
        if (carry) carry = Buffer.concat([carry, rest]);
        else {
          carry = rest;
          carryOffset = position + from;
        }
      }
      position += bytesRead;
    }
    if (carry && carry.length > 0) {
      let end = carry.length;
      if (carry[end - 1] === 13) end--;
      if (end > 0) yield { buf: carry, start: 0, end, offset: carryOffset, length: carry.length };
    }
  } finally {
    await handle.close();
  }
}

/** Reads lines by (offset, length), with a read-ahead window so in-order reads stay sequential. */
export class PositionalReader {
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);
  private window = this.buffer.subarray(0, 0);
  private windowStart = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<PositionalReader> {
    return new PositionalReader(await open(path, 'r'));
  }

  async read(offset: number, length: number): Promise<string> {
    const end = offset + length;
    if (offset < this.windowStart || end > this.windowStart + this.window.length) {
      const target = length > this.buffer.length ? Buffer.allocUnsafe(length) : this.buffer;
      const { bytesRead } = await this.handle.read(target, 0, target.length, offset);
      this.window = target.subarray(0, bytesRead);
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

/**
 * Each line of a text file, decoded (LF or CRLF; empty lines too, so line numbers hold). The file
 * is closed however the reading ends: closing readline alone leaves its input stream open.
 */
export async function* readLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* lines;
  } finally {
    lines.close();
    input.destroy();
  }
}
