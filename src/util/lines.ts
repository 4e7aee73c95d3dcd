// Reading JSONL files line by line, knowing each line's byte offset (so a line can be read again
// later by position), with bounded memory: one read buffer plus the line being assembled (at most
// `maxLineBytes` of it: past that only its end is kept).

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
  /** The line is longer than `maxLineBytes`: `buf[start, end)` holds only its last bytes (at least 64 KiB). */
  oversize?: true;
}

/**
 * The longest answer line that is read: a longer one (a damaged file without newlines, or an answer
 * no model gives) is an error record for its key (in geminiOnline's answers files: the file's end),
 * not a string too long for V8 to hold.
 */
export const MAX_RESULT_LINE_BYTES = 128 * 2 ** 20;

const READ_SIZE = 256 * 1024;
/** What an oversize line keeps of its end: room for the fields a JSONL line ends with (a result's key). */
const OVERSIZE_TAIL = 64 * 1024;

/**
 * The non-empty lines of a file as bytes, with their offsets, a batch per read (nothing decoded).
 * A batch's lines point into a buffer that the next read reuses: use them before asking for the
 * next batch. Reading a batch at a time keeps the per-line work synchronous (no promise per line).
 * A line over `maxLineBytes` comes out `oversize`, with its true offset and length but only its end.
 */
export async function* rawLineBatches(path: string, maxLineBytes = Infinity): AsyncGenerator<RawLine[]> {
  const handle = await open(path, 'r');
  try {
    // A line that runs past a read is kept as its pieces and joined once, at its end: joining at
    // every read re-copied the growing line each time (quadratic: 4 s for a 64 MB line).
    const pieces: Buffer[] = [];
    let piecesLength = 0;
    // Past maxLineBytes a line keeps only its last pieces (OVERSIZE_TAIL and up); `dropped` counts the rest.
    let dropped = 0;
    let carryOffset = 0;
    let position = 0;
    const buf = Buffer.allocUnsafe(READ_SIZE);
    const push = (batch: RawLine[], line: RawLine) => {
      if (line.end > line.start && line.buf[line.end - 1] === 13) line.end--;
      if (line.end > line.start) batch.push(line);
    };
    const joined = (): RawLine => {
      const whole = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, piecesLength);
      const line: RawLine = {
        buf: whole,
        start: 0,
        end: whole.length,
        offset: carryOffset,
        length: whole.length,
      };
      if (dropped > 0 || piecesLength > maxLineBytes) {
        line.length += dropped;
        line.oversize = true;
      }
      pieces.length = 0;
      piecesLength = 0;
      dropped = 0;
      return line;
    };
    const keep = (piece: Buffer) => {
      pieces.push(piece);
      piecesLength += piece.length;
      if (piecesLength + dropped <= maxLineBytes) return;
      while (pieces.length > 1 && piecesLength - (pieces[0] as Buffer).length >= OVERSIZE_TAIL) {
        const first = pieces.shift() as Buffer;
        piecesLength -= first.length;
        dropped += first.length;
      }
    };
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, READ_SIZE, position);
      if (bytesRead === 0) break;
      const batch: RawLine[] = [];
      let from = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(10, from)) {
        if (pieces.length > 0) {
          keep(buf.subarray(from, nl));
          push(batch, joined());
        } else {
          const line: RawLine = { buf, start: from, end: nl, offset: position + from, length: nl - from };
          if (line.length > maxLineBytes) line.oversize = true;
          push(batch, line);
        }
        from = nl + 1;
      }
      if (batch.length > 0) yield batch;
      if (from < bytesRead) {
        if (pieces.length === 0) carryOffset = position + from;
        keep(Buffer.from(buf.subarray(from, bytesRead)));
      }
      position += bytesRead;
    }
    if (piecesLength > 0) {
      const batch: RawLine[] = [];
      push(batch, joined());
      if (batch.length > 0) yield batch;
    }
  } finally {
    await handle.close();
  }
}

/** Yields each non-empty line of a file as bytes, with its offset (see rawLineBatches). */
export async function* rawLines(path: string, maxLineBytes = Infinity): AsyncGenerator<RawLine> {
  for await (const batch of rawLineBatches(path, maxLineBytes)) yield* batch;
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

  /** The line at (offset, length) if the window holds it, without reading: else undefined. */
  buffered(offset: number, length: number): string | undefined {
    if (offset < this.windowStart || offset + length > this.windowStart + this.window.length)
      return undefined;
    return this.slice(offset, length);
  }

  async read(offset: number, length: number): Promise<string> {
    const end = offset + length;
    if (offset < this.windowStart || end > this.windowStart + this.window.length) {
      const target = length > this.buffer.length ? Buffer.allocUnsafe(length) : this.buffer;
      const { bytesRead } = await this.handle.read(target, 0, target.length, offset);
      this.window = target.subarray(0, bytesRead);
      this.windowStart = offset;
    }
    return this.slice(offset, length);
  }

  private slice(offset: number, length: number): string {
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
