// The memory check in reduced form: the pipeline's client process (a child, running the built
// library against an emulator in another child) must not grow with the dataset (200 k against
// 100 k rows, 25 % + 10 MB allowed) and must stay under a ceiling (280 MB: the 150 MB target is
// not met, see bench/RESULTS.md).
// bench/memory-check.ts does the measuring; see it for the figures and the choice of sizes.
// Needs dist/ (`npm test` builds first).

import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Figures {
  runs: Array<{
    rows: number;
    peakRssMb: number;
    rssAtMb: number[];
    cpuS: number;
    wallS: number;
    emulatorPeakRssMb: number;
  }>;
  limitMb: number;
  growthLimitMb: number;
  failures: string[];
}

function memoryCheck(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench', 'memory-check.ts'), '--json'],
      { cwd: ROOT, timeout: 100_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

it('keeps the client flat from 100 k to 200 k rows, under the 280 MB ceiling', async () => {
  const { code, stdout, stderr } = await memoryCheck();
  const last = stdout.trim().split('\n').pop() ?? '';
  let figures: Figures;
  try {
    figures = JSON.parse(last) as Figures;
  } catch {
    throw new Error(`bench/memory-check.ts exited with ${code} without figures:\n${stdout}\n${stderr}`);
  }
  const summary = figures.runs
    .map(
      (r) =>
        `${r.rows} rows: peak RSS ${r.peakRssMb.toFixed(1)} MB (over the run ${r.rssAtMb.map((v) => v.toFixed(0)).join('/')} MB), ` +
        `CPU ${r.cpuS.toFixed(2)} s, wall ${r.wallS.toFixed(2)} s, emulator peak RSS ${r.emulatorPeakRssMb.toFixed(1)} MB`,
    )
    .join('\n');
  console.info(`memory check:\n${summary}`);
  expect(figures.failures, summary).toEqual([]);
  expect(code).toBe(0);
}, 110_000);
