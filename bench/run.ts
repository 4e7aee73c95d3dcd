// The benchmark: the pipeline against the local floor, on the same generated data, in one run.
//
//   npm run bench -- [--rows 100000,1000000] [--rows N]... [--10m] [--keep] [--profile]
//                    [--seed 42] [--poll-ms 100] [--no-write] [--dist DIR]
//
// For each size: generate the CSV (deterministic from --seed) in a temp dir; run the floor
// (bench/floor.ts: write phase, then an unmeasured answer phase that makes the results file with
// the emulator's fake model, then the read phase) and a variant without the row join; then start
// the emulator in its own process (`bin/gemini-batch.js emulator --port 0 --dir …`; jobs finish at
// once) and run the pipeline (bench/pipeline-run.ts) against it. Every measured program is its own
// child process: its CPU (user+sys) and peak RSS (ru_maxrss) are what it reports at exit, so
// nothing of the orchestrator, the generator or the emulator is counted as the client's. The
// emulator's peak RSS (VmHWM) and CPU are read from /proc before it is stopped.
//
// Checks on the way: the floor's results file has the same bytes (sha256) as the emulator's result
// files of the pipeline run, concatenated in chunk order, and both outputs are the same bytes.
// Prints a table and appends it, with the machine, Node version, commit and date, to bench/RESULTS.md.
// --profile runs the pipeline once more per size under `node --cpu-prof` (the measured run stays
// unprofiled) and prints the top self-time functions (bench/.work/prof/). The library measured is a
// copy of dist/ (or --dist DIR) taken at the start, so a rebuild during the run changes nothing.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildReport } from './common.js';
import { generateCsv } from './generate.js';
import {
  BENCH_DIR,
  type Build,
  type ChildRun,
  checkDist,
  machine,
  ROOT,
  runChild,
  snapshotDist,
  startEmulatorProcess,
  WORK_DIR,
} from './harness.js';
import { formatProfile, readProfile } from './profile.js';

interface Options {
  rows: number[];
  keep: boolean;
  profile: boolean;
  seed: number;
  pollMs: number;
  write: boolean;
  dist?: string;
}

function parseArgs(argv: string[]): Options {
  const rows: number[] = [];
  const o: Options = { rows, keep: false, profile: false, seed: 42, pollMs: 100, write: true };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(String(v).replace(/_/g, ''));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive whole number, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? (a.split('=', 2) as [string, string]) : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--rows') for (const part of String(value()).split(',')) rows.push(num('--rows', part));
    else if (flag === '--10m') rows.push(10_000_000);
    else if (flag === '--keep') o.keep = true;
    else if (flag === '--profile') o.profile = true;
    else if (flag === '--seed') o.seed = num('--seed', value());
    else if (flag === '--poll-ms') o.pollMs = num('--poll-ms', value());
    else if (flag === '--no-write') o.write = false;
    else if (flag === '--dist') o.dist = String(value());
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'npm run bench -- [--rows 100000,1000000] [--10m] [--keep] [--profile] [--seed 42] [--poll-ms 100] [--no-write] [--dist DIR]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown flag ${a}`);
  }
  // Defaults: 100 k and 1 M; --10m alone adds 10 M to them.
  if (rows.length === 0 || (rows.length === 1 && rows[0] === 10_000_000 && !argv.includes('--rows'))) {
    rows.unshift(100_000, 1_000_000);
  }
  o.rows = [...new Set(rows)].sort((a, b) => a - b);
  return o;
}

/** One measured program: the figures of the table. */
interface Measured {
  rows: number;
  wallMs: number;
  cpuMs: number;
  sysMs: number;
  workCpuMs: number;
  peakRssKb: number;
  emulator?: { peakRssKb: number; cpuMs: number };
  rssAt?: number[];
  reports: ChildReport[];
}

function combine(runs: ChildRun[]): Measured {
  const reports = runs.map((r) => r.report);
  return {
    rows: reports[reports.length - 1]?.rows ?? 0,
    wallMs: reports.reduce((s, r) => s + r.wallMs, 0),
    cpuMs: reports.reduce((s, r) => s + r.cpuUserMs + r.cpuSysMs, 0),
    sysMs: reports.reduce((s, r) => s + r.cpuSysMs, 0),
    workCpuMs: reports.reduce((s, r) => s + r.workCpuMs, 0),
    peakRssKb: Math.max(...reports.map((r) => r.maxRssKb)),
    reports,
  };
}

async function sha256Of(paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const p of paths) for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The pipeline's result files (attempt 1 of each chunk), in chunk order. */
function pipelineResultFiles(stateDir: string): string[] {
  const chunks = join(stateDir, 'chunks');
  if (!existsSync(chunks)) return [];
  return readdirSync(chunks)
    .sort()
    .map((c) => join(chunks, c, 'results-1.jsonl'))
    .filter((p) => existsSync(p));
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const sec = (ms: number) => (ms / 1000).toFixed(2);
const mbOf = (kb: number) => (kb / 1024).toFixed(1);

interface SizeResult {
  rows: number;
  csvBytes: number;
  floor: Measured;
  bare: Measured;
  pipeline: Measured;
  resultsSame: boolean;
  outputSame: boolean;
  profileText?: string;
}

async function runPipeline(
  js: Build,
  dir: string,
  csv: string,
  tag: string,
  pollMs: number,
  nodeArgs: string[] = [],
): Promise<{ measured: Measured; stateDir: string; out: string }> {
  const stateDir = join(dir, `state-${tag}`);
  const out = join(dir, `pipeline-${tag}.out.jsonl`);
  const emulator = await startEmulatorProcess(join(dir, `emulator-${tag}`), js.emulatorScript);
  let run: ChildRun;
  let emu: { peakRssKb: number; cpuMs: number };
  try {
    run = await runChild(
      js.pipeline,
      [
        '--csv',
        csv,
        '--state',
        stateDir,
        '--out',
        out,
        '--base-url',
        emulator.baseUrl,
        '--poll-ms',
        String(pollMs),
      ],
      nodeArgs,
    );
  } finally {
    emu = await emulator.stop();
  }
  const measured = combine([run]);
  measured.emulator = emu;
  measured.rssAt = run.sampler.at([0.25, 0.5, 0.75, 1]);
  return { measured, stateDir, out };
}

async function runSize(rows: number, o: Options, js: Build): Promise<SizeResult> {
  const dir = mkdtempSync(join(tmpdir(), `gbs-bench-${rows}-`));
  try {
    const csv = join(dir, 'reviews.csv');
    log(`\n== ${rows.toLocaleString('en-US')} rows (${dir})`);
    const gen = await generateCsv(csv, rows, o.seed);
    log(`generated ${(gen.bytes / 1e6).toFixed(1)} MB of CSV in ${sec(gen.ms)} s`);

    const floorDir = join(dir, 'floor');
    const bareDir = join(dir, 'floor-bare');
    mkdirSync(floorDir);
    mkdirSync(bareDir);
    const fw = await runChild(js.floor, ['--phase', 'write', '--csv', csv, '--dir', floorDir]);
    const fa = await runChild(js.floor, ['--phase', 'answer', '--dir', floorDir]);
    log(`floor: results file made by the fake model in ${sec(fa.report.wallMs)} s (not measured)`);
    const fr = await runChild(js.floor, ['--phase', 'read', '--dir', floorDir]);
    const floor = combine([fw, fr]);
    // Disk: at 10 M rows every file here is gigabytes; the spools are not needed any more.
    if (!o.keep) for (const f of ['requests.jsonl', 'rows.jsonl']) rmSync(join(floorDir, f), { force: true });
    log(`floor: ${sec(floor.cpuMs)} s CPU, ${mbOf(floor.peakRssKb)} MB peak RSS`);
    const bw = await runChild(js.floor, ['--phase', 'write', '--csv', csv, '--dir', bareDir, '--no-rows']);
    const br = await runChild(js.floor, [
      '--phase',
      'read',
      '--dir',
      bareDir,
      '--no-rows',
      '--results',
      join(floorDir, 'results.jsonl'),
    ]);
    const bare = combine([bw, br]);
    log(`floor without the row join: ${sec(bare.cpuMs)} s CPU, ${mbOf(bare.peakRssKb)} MB peak RSS`);
    rmSync(bareDir, { recursive: true, force: true });

    const p = await runPipeline(js, dir, csv, 'measured', o.pollMs);
    const pipeline = p.measured;
    const extra = pipeline.reports[0]?.extra ?? {};
    log(
      `pipeline: ${sec(pipeline.cpuMs)} s CPU, ${mbOf(pipeline.peakRssKb)} MB peak RSS, ${sec(pipeline.wallMs)} s wall; ` +
        `${extra.succeeded} ok / ${extra.failed} failed in ${extra.chunks} chunks`,
    );
    if (extra.succeeded !== rows)
      throw new Error(`the pipeline succeeded on ${extra.succeeded} of ${rows} rows`);
    const [floorResults, pipeResults] = await Promise.all([
      sha256Of([join(floorDir, 'results.jsonl')]),
      sha256Of(pipelineResultFiles(p.stateDir)),
    ]);
    const [floorOut, pipeOut] = await Promise.all([
      sha256Of([join(floorDir, 'output.jsonl')]),
      sha256Of([p.out]),
    ]);
    const result: SizeResult = {
      rows,
      csvBytes: gen.bytes,
      floor,
      bare,
      pipeline,
      resultsSame: floorResults === pipeResults,
      outputSame: floorOut === pipeOut,
    };
    log(
      `checks: results files ${result.resultsSame ? 'identical' : 'DIFFER'}, outputs ${result.outputSame ? 'identical' : 'DIFFER'}`,
    );
    if (!o.keep) {
      rmSync(p.stateDir, { recursive: true, force: true });
      rmSync(join(dir, 'emulator-measured'), { recursive: true, force: true });
    }

    if (o.profile) {
      const profDir = join(WORK_DIR, 'prof');
      mkdirSync(profDir, { recursive: true });
      const name = `pipeline-${rows}.cpuprofile`;
      rmSync(join(profDir, name), { force: true });
      log('profiling the pipeline (a separate, unmeasured run under --cpu-prof)…');
      await runPipeline(js, dir, csv, 'profiled', o.pollMs, [
        '--cpu-prof',
        '--cpu-prof-dir',
        profDir,
        '--cpu-prof-name',
        name,
      ]);
      result.profileText = formatProfile(readProfile(join(profDir, name)), rows, 25);
      writeFileSync(join(profDir, `pipeline-${rows}.txt`), `${result.profileText}\n`);
      log(`\nProfile of the pipeline at ${rows.toLocaleString('en-US')} rows (${join(profDir, name)}):\n`);
      log(result.profileText);
    }
    return result;
  } finally {
    if (o.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function table(results: SizeResult[]): string {
  const head =
    '| rows | run | wall s | rows/s | client CPU s | CPU µs/row | CPU vs floor | client peak RSS MB | emulator peak RSS MB | emulator CPU s |';
  const sep = '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = [head, sep];
  for (const r of results) {
    const row = (name: string, m: Measured) => {
      const ratio = m.cpuMs / r.floor.cpuMs;
      lines.push(
        `| ${r.rows.toLocaleString('en-US')} | ${name} | ${sec(m.wallMs)} | ${Math.round((m.rows / m.wallMs) * 1000).toLocaleString('en-US')} | ${sec(m.cpuMs)} | ${((m.cpuMs * 1000) / m.rows).toFixed(1)} | ${ratio.toFixed(2)}× | ${mbOf(m.peakRssKb)} | ${m.emulator ? mbOf(m.emulator.peakRssKb) : '–'} | ${m.emulator ? sec(m.emulator.cpuMs) : '–'} |`,
      );
    };
    row('floor', r.floor);
    row('floor, no row join', r.bare);
    row('**pipeline**', r.pipeline);
  }
  return lines.join('\n');
}

function notes(results: SizeResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const p = r.pipeline;
    const at = (p.rssAt ?? []).map((v) => v.toFixed(0)).join(' / ');
    const extra = p.reports[0]?.extra ?? {};
    const mem = p.reports[0]?.memory;
    out.push(
      `- ${r.rows.toLocaleString('en-US')} rows (${(r.csvBytes / 1e6).toFixed(0)} MB CSV): pipeline RSS at 25/50/75/100 % of the run ${at} MB; ` +
        `at exit heap ${mem ? (mem.heapUsed / 2 ** 20).toFixed(0) : '?'} MB used / ${mem ? (mem.heapTotal / 2 ** 20).toFixed(0) : '?'} MB total, ` +
        `array buffers ${mem ? (mem.arrayBuffers / 2 ** 20).toFixed(0) : '?'} MB; ${extra.chunks} jobs, uploaded ${(Number(extra.uploadedBytes) / 1e6).toFixed(0)} MB, ` +
        `downloaded ${(Number(extra.downloadedBytes) / 1e6).toFixed(0)} MB; system CPU floor ${sec(r.floor.sysMs)} s, pipeline ${sec(p.sysMs)} s; ` +
        `work CPU (startup excluded) floor ${sec(r.floor.workCpuMs)} s, ` +
        `pipeline ${sec(p.workCpuMs)} s (${(p.workCpuMs / r.floor.workCpuMs).toFixed(2)}×); results files ${r.resultsSame ? 'identical' : 'DIFFER'}, outputs ${r.outputSame ? 'identical' : 'DIFFER'}.`,
    );
  }
  return out.join('\n');
}

function gitInfo(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return `${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}

const RESULTS_HEADER = `# Benchmark results

Written by \`npm run bench\` (bench/run.ts); each run appends a section. **floor**: the least local
work for the job, written plainly with the same libraries (bench/floor.ts: csv-parse → request line
→ requests.jsonl, row → rows.jsonl; then results.jsonl + rows.jsonl → JSON.parse → output record →
output.jsonl); **floor, no row join**: the same without carrying the row to the output (the issue's
literal floor). **pipeline**: \`pipeline(csvSource, toRequests, geminiBatch, jsonlSink)\` against the
emulator in another process, geminiBatch defaults except \`stateDir\` and \`pollIntervalMs: 100\`
(jobs finish at once; the default 10 s poll would only add idle time). Client CPU = user+sys of
the client process (startup included), peak RSS = its ru_maxrss; the emulator's figures come
from /proc. All processes run the built library (a snapshot of dist/ taken at the start of the
run). The pipeline's wall time includes waiting for the emulator, which works on the other core.
`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  for (const w of checkDist(o.dist)) log(w);
  const js = snapshotDist(o.dist);
  const started = new Date();
  const results: SizeResult[] = [];
  try {
    for (const rows of o.rows) results.push(await runSize(rows, o, js));
  } finally {
    js.dispose();
  }
  const m = machine();
  const tbl = table(results);
  const nts = notes(results);
  process.stdout.write(`\n${m}\n\n${tbl}\n\n${nts}\n`);
  if (!o.write) return;
  const path = join(BENCH_DIR, 'RESULTS.md');
  let section = `\n## ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC — ${o.rows.map((r) => r.toLocaleString('en-US')).join(', ')} rows\n\n`;
  section += `Machine: ${m}. Commit ${gitInfo()}. Seed ${o.seed}.\n\n${tbl}\n\n${nts}\n`;
  for (const r of results) {
    if (!r.profileText) continue;
    section += `\n<details><summary>CPU profile of the pipeline at ${r.rows.toLocaleString('en-US')} rows (separate run under --cpu-prof)</summary>\n\n\`\`\`\n${r.profileText}\n\`\`\`\n</details>\n`;
  }
  const existing = existsSync(path) ? await readFile(path, 'utf8') : '';
  if (!existing) writeFileSync(path, RESULTS_HEADER);
  await appendFile(path, section);
  log(`\nappended to ${path}`);
}

await main();
