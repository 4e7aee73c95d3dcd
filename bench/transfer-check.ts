// Do upload and download stay bounded for large files? Makes a requests file of N rows (default
// 1 M: ~340 MB, whose results file is ~560 MB), starts the emulator in its own process, and runs
// bench/transfer-run.ts (upload → job → download through the library's GeminiApi) as a child,
// printing the client's peak RSS during each phase against its RSS before them.
//
//   node --import tsx bench/transfer-check.ts [--rows 1000000] [--keep]

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCsv } from './generate.js';
import { checkDist, runChild, snapshotDist, startEmulatorProcess } from './harness.js';

const argv = process.argv.slice(2);
const at = argv.indexOf('--rows');
const rows = at >= 0 ? Number(argv[at + 1]) : 1_000_000;
const keep = argv.includes('--keep');

for (const w of checkDist()) process.stderr.write(`${w}\n`);
const build = snapshotDist();
const dir = mkdtempSync(join(tmpdir(), `gbs-transfer-${rows}-`));
try {
  const csv = join(dir, 'reviews.csv');
  await generateCsv(csv, rows, 42);
  const floorDir = join(dir, 'floor');
  mkdirSync(floorDir);
  // The floor's write phase makes the requests file the pipeline would upload.
  await runChild(build.floor, ['--phase', 'write', '--csv', csv, '--dir', floorDir, '--no-rows']);
  const emulator = await startEmulatorProcess(join(dir, 'emulator'), build.emulatorScript);
  let run: Awaited<ReturnType<typeof runChild>>;
  try {
    run = await runChild(build.transfer, [
      '--base-url',
      emulator.baseUrl,
      '--file',
      join(floorDir, 'requests.jsonl'),
      '--dest',
      join(dir, 'results.jsonl'),
    ]);
  } finally {
    const emu = await emulator.stop();
    process.stdout.write(`emulator peak RSS ${(emu.peakRssKb / 1024).toFixed(1)} MB\n`);
  }
  const x = run.report.extra as Record<string, number>;
  const mbOf = (b: number) => (b / 1e6).toFixed(0);
  process.stdout.write(
    `client RSS before the transfers ${x.baselineMb?.toFixed(1)} MB\n` +
      `upload of ${mbOf(x.uploadBytes as number)} MB: peak RSS ${x.uploadPeakMb?.toFixed(1)} MB (${((x.uploadMs as number) / 1000).toFixed(1)} s)\n` +
      `download of ${mbOf(x.downloadBytes as number)} MB: peak RSS ${x.downloadPeakMb?.toFixed(1)} MB (${((x.downloadMs as number) / 1000).toFixed(1)} s)\n` +
      `process peak RSS ${(run.report.maxRssKb / 1024).toFixed(1)} MB\n`,
  );
} finally {
  build.dispose();
  if (keep) process.stderr.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
