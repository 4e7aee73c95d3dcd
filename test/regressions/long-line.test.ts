// Regression: rawLineBatches (results, rows and requests files) joined a line that ran past a read
// with Buffer.concat at every read, re-copying the growing line each time: quadratic (64 MB in 4 s).
// It now keeps the pieces and joins them once. Copies are counted here, not timed.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PositionalReader, type RawLine, rawLineBatches, readLines } from '../../src/util/lines.js';
import { tempDirs } from '../helpers.js';

const temp = tempDirs();

/** `size` printable bytes in a 89-byte cycle: pieces joined out of order or twice would show. */
function pattern(size: number): Buffer {
  const cycle = Buffer.from(Array.from({ length: 89 }, (_, i) => 33 + i));
  return Buffer.alloc(size, cycle);
}

type Line = Omit<RawLine, 'buf'> & { bytes: Buffer };

/** Every line of `path` (each copied out of the reused read buffer), and the bytes Buffer.concat copied meanwhile. */
async function readCounting(path: string, maxLineBytes?: number): Promise<{ lines: Line[]; copied: number }> {
  const concat = Buffer.concat;
  let copied = 0;
  const lines: Line[] = [];
  Buffer.concat = (list, totalLength) => {
    const joined = concat(list, totalLength);
    copied += joined.length;
    return joined;
  };
  try {
    for await (const batch of rawLineBatches(path, maxLineBytes)) {
      for (const { buf, ...line } of batch)
        lines.push({ ...line, bytes: Buffer.from(buf.subarray(line.start, line.end)) });
    }
  } finally {
    Buffer.concat = concat;
  }
  return { lines, copied };
}

describe('a very long line', () => {
  it('a line of 40 MB is read whole, at its offset, and copied once (not once per read)', async () => {
    const big = pattern(40 * 2 ** 20);
    const tail = pattern(3 * 2 ** 20 + 7); // the last line, without a newline
    const path = join(temp(), 'long.jsonl');
    writeFileSync(path, Buffer.concat([Buffer.from('a\n'), big, Buffer.from('\r\nb\n'), tail]));

    const { lines, copied } = await readCounting(path);

    expect(lines.map(({ offset, length, end, start }) => ({ offset, length, size: end - start }))).toEqual([
      { offset: 0, length: 1, size: 1 },
      { offset: 2, length: big.length + 1, size: big.length },
      { offset: big.length + 4, length: 1, size: 1 },
      { offset: big.length + 6, length: tail.length, size: tail.length },
    ]);
    expect(lines[0]?.bytes.toString()).toBe('a');
    expect(lines[1]?.bytes.equals(big)).toBe(true);
    expect(lines[2]?.bytes.toString()).toBe('b');
    expect(lines[3]?.bytes.equals(tail)).toBe(true);
    // Joined once: each long line copied about once. Joining at every 256 KiB read copied ~3.4 GB.
    expect(copied).toBeLessThanOrEqual(big.length + tail.length + 2 * 2 ** 20);

    const reader = await PositionalReader.open(path);
    try {
      expect((await reader.read(2, big.length + 1)) === big.toString('latin1')).toBe(true);
      expect(await reader.read(big.length + 4, 1)).toBe('b');
    } finally {
      await reader.close();
    }

    const decoded: string[] = [];
    for await (const line of readLines(path)) decoded.push(line);
    expect(decoded.map((l) => l.length)).toEqual([1, big.length, 1, tail.length]);
    expect(decoded[1] === big.toString('latin1') && decoded[3] === tail.toString('latin1')).toBe(true);
  });

  it('a line over maxLineBytes comes out oversize: its true offset and length, only its end kept', async () => {
    const big = pattern(5 * 2 ** 20 + 3);
    const path = join(temp(), 'oversize.jsonl');
    writeFileSync(path, Buffer.concat([Buffer.from('a\n'), big, Buffer.from('\r\nb\n')]));
    const { lines, copied } = await readCounting(path, 2 ** 20);
    expect(lines.map(({ offset, length, oversize }) => ({ offset, length, oversize }))).toEqual([
      { offset: 0, length: 1, oversize: undefined },
      { offset: 2, length: big.length + 1, oversize: true },
      { offset: big.length + 4, length: 1, oversize: undefined },
    ]);
    // The end of the line, whole, and not much more than the 64 KiB kept (plus one read).
    const kept = lines[1]?.bytes ?? Buffer.alloc(0);
    expect(kept.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(kept.length).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
    expect(kept.equals(big.subarray(big.length - kept.length))).toBe(true);
    expect(copied).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
    expect(lines[2]?.bytes.toString()).toBe('b');
  });
});
