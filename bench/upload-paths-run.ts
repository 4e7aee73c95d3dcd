// One way of sending a file over HTTP, as a child process (see bench/upload-paths.ts): the file is
// POSTed in 8 MiB pieces, as the SDK's resumable upload does, to a server that discards the body.
// Reports (bench report line) its RSS before and at the peak, and the peak of its ArrayBuffer memory
// (sampled every 5 ms).
//
//   node upload-paths-run.js --mode fetch-blob|fetch-stream|http-stream|http-reused --file F --port P
//   node upload-paths-run.js --mode load --module @google/genai   (RSS after importing a module)

import { createReadStream, openAsBlob } from 'node:fs';
import { open } from 'node:fs/promises';
import { request } from 'node:http';
import { childArgs, required, startMeasure } from './common.js';

const PIECE = 8 * 2 ** 20;
const READ = 64 * 1024;
const args = childArgs();
const measure = startMeasure('upload-paths');
const mode = required(args, 'mode');
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

if (mode === 'load') {
  const name = required(args, 'module');
  if (name !== 'node') await import(name);
  measure.done(0, { rssMb: mb(process.memoryUsage.rss()) });
  process.exit(0);
}

const file = required(args, 'file');
const url = `http://127.0.0.1:${required(args, 'port')}/`;
const before = process.memoryUsage.rss();
let peakRss = 0;
let peakArrayBuffers = 0;
const timer = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
}, 5);

/** POSTs a body of `length` bytes with node:http; `send` writes it and ends the request. */
function httpPost(length: number, send: (req: ReturnType<typeof request>) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-length': length } }, (res) => {
      res.resume().on('end', resolve).on('error', reject);
    });
    req.on('error', reject);
    send(req).catch(reject);
  });
}

const blob = await openAsBlob(file);
const handle = await open(file, 'r');
const reused = Buffer.allocUnsafe(READ);
for (let offset = 0; offset < blob.size; offset += PIECE) {
  const end = Math.min(offset + PIECE, blob.size);
  if (mode === 'fetch-blob') {
    // What the SDK does with a file-backed Blob: fetch(url, { body: blob.slice(…) }).
    await (await fetch(url, { method: 'POST', body: blob.slice(offset, end) })).arrayBuffer();
  } else if (mode === 'fetch-stream') {
    const body = createReadStream(file, { start: offset, end: end - 1 });
    const init = {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-length': String(end - offset) },
    };
    await (await fetch(url, init as unknown as RequestInit)).arrayBuffer();
  } else if (mode === 'http-stream') {
    await httpPost(end - offset, async (req) => {
      createReadStream(file, { start: offset, end: end - 1 }).pipe(req);
    });
  } else if (mode === 'http-reused') {
    // One 64 KiB buffer for the whole file: each read waits until the last write has left.
    await httpPost(end - offset, async (req) => {
      for (let at = offset; at < end; ) {
        const { bytesRead } = await handle.read(reused, 0, Math.min(READ, end - at), at);
        at += bytesRead;
        await new Promise<void>((ok, fail) =>
          req.write(reused.subarray(0, bytesRead), (e) => (e ? fail(e) : ok())),
        );
      }
      req.end();
    });
  } else throw new Error(`unknown --mode ${mode}`);
}
clearInterval(timer);
await handle.close();
measure.done(0, {
  bytes: blob.size,
  rssBeforeMb: mb(before),
  peakRssMb: mb(peakRss),
  peakArrayBuffersMb: mb(peakArrayBuffers),
});
process.exit(0);
