// A realistic reviews CSV of N rows, deterministic from a seed, streamed to disk (10 M rows never
// sit in memory: rows are rendered into ~1 MiB pieces written with backpressure).
//
// Columns: id, product_id, user_id, rating, date, country, verified, review. The review is 50–300
// characters of words with commas, apostrophes, "quoted phrases", some accented words and the odd
// emoji, so csv-parse sees quoted fields with escaped quotes and UTF-8 beyond ASCII.
//
//   node --import tsx bench/generate.ts --rows 100000 --out /tmp/reviews.csv [--seed 42]

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { rng } from '../src/util/random.js';
import { COLUMNS } from './common.js';

const WORDS = (
  'the this it was is and but very really quite not too so a an of for with my our their product ' +
  'battery screen price delivery quality service support size colour color fit sound design app ' +
  'charger cable box manual packaging seller refund replacement order week month day year ' +
  'good great excellent terrible awful okay fine decent solid cheap expensive broken perfect ' +
  'fast slow loud quiet bright dim heavy light sturdy flimsy comfortable useless handy reliable ' +
  'works worked stopped arrived returned bought recommend love hate like expected disappointed ' +
  'happy impressed after before because although however overall honestly again still never always'
).split(' ');
const ACCENTED = ['café', 'naïve', 'über', 'façade', 'déjà vu', 'jalapeño', 'Zürich', 'smörgåsbord'];
const EMOJI = ['👍', '😡', '🙂', '⭐'];
const QUOTED = ['"as described"', '"premium"', '"five stars"', '"just OK"', '"fast shipping"'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR', 'JP', 'CA', 'AU', 'ES', 'IT', 'NL', 'MX', 'SE'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T;
}

/** One review: 50–300 characters. */
function review(rand: () => number): string {
  const target = 50 + Math.floor(rand() * 251);
  let text = '';
  let sentenceStart = true;
  while (text.length < target) {
    const r = rand();
    let word: string;
    if (r < 0.02) word = pick(rand, ACCENTED);
    else if (r < 0.03) word = pick(rand, QUOTED);
    else if (r < 0.035) word = pick(rand, EMOJI);
    else if (r < 0.045) word = "don't";
    else if (r < 0.05) word = "it's";
    else word = pick(rand, WORDS);
    if (sentenceStart) word = word.charAt(0).toUpperCase() + word.slice(1);
    text += text ? ` ${word}` : word;
    sentenceStart = false;
    const p = rand();
    if (p < 0.08) text += ',';
    else if (p < 0.12) {
      text += rand() < 0.8 ? '.' : '!';
      sentenceStart = true;
    }
  }
  if (text.length > 300) {
    // Never cut an emoji (a surrogate pair) in half: a lone surrogate is written as U+FFFD.
    const cut = (text.charCodeAt(299) & 0xfc00) === 0xd800 ? 299 : 300;
    text = text.slice(0, cut).trimEnd();
  }
  if (text.length < 50) text = text.padEnd(50, '.');
  return text;
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Renders row `n` (0-based). */
function row(n: number, rand: () => number): string {
  const id = `rv-${String(n + 1).padStart(9, '0')}`;
  const product = `P${String(Math.floor(rand() * 50_000)).padStart(6, '0')}`;
  const user = `u${Math.floor(rand() * 2_000_000).toString(36)}`;
  const rating = String(1 + Math.floor(rand() * 5));
  const day = Math.floor(rand() * 1500);
  const date = new Date(Date.UTC(2021, 0, 1) + day * 86_400_000).toISOString().slice(0, 10);
  const country = pick(rand, COUNTRIES);
  const verified = rand() < 0.85 ? 'true' : 'false';
  return `${id},${product},${user},${rating},${date},${country},${verified},${csvField(review(rand))}\n`;
}

export interface GenerateResult {
  rows: number;
  bytes: number;
  ms: number;
}

/** Writes `rows` rows (plus a header) to `path`; the same seed always gives the same bytes. */
export async function generateCsv(path: string, rows: number, seed = 42): Promise<GenerateResult> {
  const t0 = performance.now();
  const rand = rng(seed);
  const out = createWriteStream(path);
  let bytes = 0;
  let piece = `${COLUMNS.join(',')}\n`;
  const flush = async () => {
    bytes += Buffer.byteLength(piece);
    const ok = out.write(piece);
    piece = '';
    if (!ok) await once(out, 'drain');
  };
  for (let n = 0; n < rows; n++) {
    piece += row(n, rand);
    if (piece.length >= 1024 * 1024) await flush();
  }
  await flush();
  out.end();
  await once(out, 'close');
  return { rows, bytes, ms: performance.now() - t0 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const rows = Number(get('rows') ?? 100_000);
  const outPath = get('out') ?? 'reviews.csv';
  const seed = Number(get('seed') ?? 42);
  const r = await generateCsv(outPath, rows, seed);
  process.stderr.write(`${outPath}: ${r.rows} rows, ${r.bytes} bytes in ${(r.ms / 1000).toFixed(1)} s\n`);
}
