// What does sending a large file over HTTP cost in client memory, by the way it is sent? Evidence
// for bench/RESULTS.md (issue 5): the SDK uploads through Node's fetch with a Blob body. Makes a
// text file of about --mb MB, starts a server that discards request bodies (its own process), and
// runs bench/upload-paths-run.ts once per mode, --runs times, each in a fresh process:
//   fetch-blob    fetch(url, { body: fileBackedBlob.slice(…) }) per 8 MiB piece (the SDK's way)
//   fetch-stream  fetch with an fs.ReadStream body (duplex: 'half')
//   http-stream   node:http, an fs.ReadStream piped into the request
//   http-reused   node:http, one reused 64 KiB buffer (read, write, wait for the write, repeat)
// and, for scale, the RSS of a process that has only imported a module (node, @google/genai, zod,
// the built library).
//
//   node --import tsx bench/upload-paths.ts [--mb 400] [--runs 3]

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCsv } from './generate.js';
import { checkDist, machine, runChild, snapshotDist } from './harness.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const sizeMb = flag('mb', 400);
const runs = flag('runs', 3);
const MODES = ['fetch-blob', 'fetch-stream', 'http-stream', 'http-reused'];

/** Runs the child with `args` and returns what it reports. */
async function child(script: string, args: string[]): Promise<Record<string, number>> {
  return (await runChild(script, args)).report.extra as Record<string, number>;
}

for (const w of checkDist()) process.stderr.write(`${w}\n`);
const build = snapshotDist();
const dir = mkdtempSync(join(tmpdir(), 'gbs-upload-paths-'));
const server = spawn(
  process.execPath,
  [
    '-e',
    "require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.end('ok')); })" +
      '.listen(0, "127.0.0.1", function () { console.log(this.address().port); });',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const file = join(dir, 'upload.txt');
  // The benchmark's CSV is ~231 bytes a row.
  await generateCsv(file, Math.round((sizeMb * 1e6) / 231), 42);
  const [portLine] = (await once(server.stdout.setEncoding('utf8'), 'data')) as [string];
  const port = portLine.trim();
  const results = new Map<string, Array<Record<string, number>>>(MODES.map((m) => [m, []]));
  for (let r = 0; r < runs; r++) {
    for (const mode of MODES) {
      (results.get(mode) as Array<Record<string, number>>).push(
        await child(build.uploadPaths, ['--mode', mode, '--file', file, '--port', port]),
      );
    }
  }
  const bytes = Number((results.get(MODES[0] as string) as Array<Record<string, number>>)[0]?.bytes);
  process.stdout.write(
    `${machine()}\nsending ${(bytes / 1e6).toFixed(0)} MB in 8 MiB pieces, ${runs} runs each:\n`,
  );
  process.stdout.write(
    '| mode | RSS before MB | peak RSS MB (each run) | RSS added MB (median) | peak ArrayBuffers MB (each run) |\n',
  );
  process.stdout.write('| --- | ---: | ---: | ---: | ---: |\n');
  for (const [mode, rs] of results) {
    const added = rs.map((x) => Number(x.peakRssMb) - Number(x.rssBeforeMb)).sort((a, b) => a - b);
    process.stdout.write(
      `| ${mode} | ${rs[0]?.rssBeforeMb} | ${rs.map((x) => x.peakRssMb).join(', ')} | ` +
        `${added[Math.floor(added.length / 2)]?.toFixed(0)} | ${rs.map((x) => x.peakArrayBuffersMb).join(', ')} |\n`,
    );
  }
  process.stdout.write('\nRSS of a process after importing only:\n');
  for (const module of ['node', '@google/genai', 'zod', join(build.dist, 'index.js')]) {
    const r = await child(build.uploadPaths, ['--mode', 'load', '--module', module]);
    process.stdout.write(
      `- ${module === 'node' ? '(nothing)' : module.startsWith('/') ? 'the library (dist/index.js)' : module}: ${r.rssMb} MB\n`,
    );
  }
} finally {
  server.kill();
  build.dispose();
  rmSync(dir, { recursive: true, force: true });
}
