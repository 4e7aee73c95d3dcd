// A fixed-size Bloom filter over every key of a run: a constant-memory first check for duplicate
// keys across chunks. A hit is only a suspect; the chunker confirms it against the keys on disk.

/**
 * Default size: 16 MiB. False suspects: none to speak of up to 3 M keys, about 2 per 1000 keys at
 * 10 M; each is checked against one bucket of the on-disk key index (state/key-index.ts).
 */
export const DEFAULT_KEY_FILTER_BYTES = 16 * 1024 * 1024;
const HASHES = 7;

export function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so nearby keys spread over the whole table.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;

  constructor(bytes = DEFAULT_KEY_FILTER_BYTES) {
    const words = Math.max(1, Math.floor(bytes / 4));
    this.bits = new Uint32Array(words);
    this.size = words * 32;
  }

  /** Adds `key`; true if it may have been added before (a suspect), false if surely not. */
  add(key: string): boolean {
    const h1 = fnv1a(key, 0x811c9dc5);
    const h2 = fnv1a(key, 0x5bd1e995) | 1;
    let seen = true;
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const index = bit % this.size;
      const word = index >>> 5;
      const mask = 1 << (index & 31);
      const current = this.bits[word] as number;
      if ((current & mask) === 0) {
        seen = false;
        this.bits[word] = current | mask;
      }
    }
    return seen;
  }
}
