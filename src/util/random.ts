// A seeded PRNG for the emulator's fake answers and fault draws, the benchmark's data and the demo
// fixture: the same seed always yields the same sequence, so a fault scenario, a fake output or a
// generated file can be replayed exactly.

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
