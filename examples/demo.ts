// `npm run demo`: starts the emulator in-process and runs one batch round trip through the real SDK.
// (The full pipeline demo replaces this once the stages exist.)

import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { startEmulator } from 'gemini-batch-stream/emulator';

const emulator = await startEmulator({ pendingMs: 1000, runningMs: 2000 });
console.log(`emulator on ${emulator.baseUrl}`);
const ai = new GoogleGenAI(emulator.clientOptions());
const dir = await mkdtemp(join(tmpdir(), 'gbs-demo-'));
const input = join(dir, 'requests.jsonl');
writeFileSync(
  input,
  ['great phone', 'awful battery', 'it is a phone']
    .map((text, i) => JSON.stringify({ key: `r${i}`, request: { contents: [{ parts: [{ text }] }] } }))
    .join('\n'),
);
const file = await ai.files.upload({ file: input, config: { mimeType: 'jsonl' } });
let job = await ai.batches.create({
  model: 'gemini-2.5-flash',
  src: file.name ?? '',
  config: { displayName: 'demo' },
});
console.log(`${job.name} ${job.state}`);
while (job.state !== 'JOB_STATE_SUCCEEDED') {
  await new Promise((r) => setTimeout(r, 500));
  const next = await ai.batches.get({ name: job.name ?? '' });
  if (next.state !== job.state) console.log(`${job.name} ${next.state}`);
  job = next;
}
const out = join(dir, 'results.jsonl');
await ai.files.download({ file: job.dest?.fileName ?? '', downloadPath: out });
console.log((await readFile(out, 'utf8')).trim());
await emulator.close();
