// Hashes: small non-cryptographic ones over strings and 32-bit integers (the key filter and key
// index spread keys with them, the emulator's fault rules draw numbers from them), and a sha256
// digest of JSON for fingerprints.

import { createHash } from 'node:crypto';

/** The murmur3 finaliser (fmix32): an avalanche so nearby inputs spread over all 32 bits. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`, from `seed`, finished with {@link fmix}. */
export function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so nearby keys spread over the whole table.
  return fmix(h);
}

/** A short, stable digest of any JSON value (for fingerprints). */
export function digestJson(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
