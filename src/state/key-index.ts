// Every chunk's keys, on disk, grouped by hash bucket: `chunks/NNNNNN/keys.idx` holds a table of
// bucket offsets, then one `<line>\t<key as JSON>` line per key, bucket by bucket. The key
// filter's suspects are confirmed by reading, in each earlier chunk, only their buckets: the check
// stays cheap however many keys came before, and holds no keys in memory.

import { renameSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fnv1a } from '../util/hash.js';
import type { RunState } from './run-state.js';

const BUCKETS = 1024;
const HEADER_BYTES = (BUCKETS + 1) * 4;
const KEYS_FILE = 'keys.idx';

export interface EarlierKey {
  key: string;
  chunk: number;
  line: number | undefined;
}

function bucketOf(key: string): number {
  return fnv1a(key, 0x27d4eb2f) % BUCKETS;
}

export class KeyIndex {
  /**
   * Each recorded chunk's smallest and largest key: a suspect outside a chunk's range is not in
   * it, so its file is not read. With keys that grow through the input (ids, timestamps) no
   * earlier chunk's range holds a new key, and a false suspect costs no reading at all. Two keys a
   * chunk: the only memory that grows with the run, and by little.
   */
  private readonly ranges: Array<[string, string] | undefined> = [];

  constructor(private readonly run: RunState) {}

  /** Writes a chunk's keys (row index by key) with their input lines (replacing an earlier run's). */
  record(chunk: number, keys: Map<string, number>, lines: ReadonlyArray<number | undefined>): void {
    const buckets: string[] = new Array(BUCKETS).fill('');
    let min: string | undefined;
    let max: string | undefined;
    for (const [key, row] of keys) {
      if (min === undefined || key < min) min = key;
      if (max === undefined || key > max) max = key;
      const b = bucketOf(key);
      buckets[b] += `${lines[row] ?? ''}\t${JSON.stringify(key)}\n`;
    }
    const header = Buffer.alloc(HEADER_BYTES);
    const parts: Buffer[] = [header];
    let offset = 0;
    for (let b = 0; b < BUCKETS; b++) {
      header.writeUInt32LE(offset, b * 4);
      const part = Buffer.from(buckets[b] as string);
      parts.push(part);
      offset += part.length;
    }
    header.writeUInt32LE(offset, BUCKETS * 4);
    const path = join(this.run.chunkDir(chunk), KEYS_FILE);
    writeFileSync(`${path}.tmp`, Buffer.concat(parts));
    renameSync(`${path}.tmp`, path);
    this.ranges[chunk] = min === undefined || max === undefined ? undefined : [min, max];
  }

  /** The first of `suspects` that a chunk before `chunk` holds, if any. */
  async findEarlier(chunk: number, suspects: Iterable<string>): Promise<EarlierKey | undefined> {
    const all = [...suspects];
    const wanted = new Map<number, Map<string, string>>();
    for (const key of all) {
      const b = bucketOf(key);
      const m = wanted.get(b) ?? new Map<string, string>();
      wanted.set(b, m);
      m.set(JSON.stringify(key), key);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    for (let c = 0; c < chunk; c++) {
      const range = this.ranges[c];
      if (range && all.every((key) => key < range[0] || key > range[1])) continue;
      const path = join(this.run.chunkDir(c), KEYS_FILE);
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      try {
        if ((await handle.read(header, 0, HEADER_BYTES, 0)).bytesRead < HEADER_BYTES) continue;
        for (const [b, keys] of wanted) {
          const from = header.readUInt32LE(b * 4);
          const size = header.readUInt32LE((b + 1) * 4) - from;
          if (size <= 0) continue;
          const section = Buffer.alloc(size);
          await handle.read(section, 0, size, HEADER_BYTES + from);
          for (const text of section.toString('utf8').split('\n')) {
            const tab = text.indexOf('\t');
            const key = keys.get(text.slice(tab + 1));
            if (key === undefined) continue;
            const line = text.slice(0, tab);
            return { key, chunk: c, line: line ? Number(line) : undefined };
          }
        }
      } finally {
        await handle.close();
      }
    }
    return undefined;
  }
}
