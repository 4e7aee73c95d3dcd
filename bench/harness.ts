// The benchmark's process plumbing: compiles the child scripts to plain JS, starts the emulator in
// its own process, runs a measured child and samples /proc for the figures a child cannot report
// about itself (its RSS over time) or that belong to another process (the emulator's peak RSS and
// CPU).
//
// Why compile: `node --import tsx` registers its loader on a worker thread with its own V8 heap,
// which adds ~20 MB of RSS (and some CPU) to every process it runs. The measured children must
// carry only what a user's compiled program carries, so bench/{common,floor,pipeline-run}.ts are
// transpiled (types stripped, nothing else) to bench/.work/, with `../src/…` imports pointed at
// the built library (run `npm run build` first; the emulator runs from the same build).
//
// Which build: a copy of dist/ taken when the run starts (`snapshotDist`), so a rebuild of dist/
// during a long run (other work in the same checkout) cannot change what is measured half-way.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { type ChildReport, REPORT_PREFIX } from './common.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const WORK_DIR = join(BENCH_DIR, '.work');
const DIST = join(ROOT, 'dist');
const CHILD_SOURCES = ['common.ts', 'floor.ts', 'pipeline-run.ts', 'transfer-run.ts', 'upload-paths-run.ts'];

const MB = 1024 * 1024;

function newestMtime(dir: string): { path: string; mtime: number } {
  let best = { path: dir, mtime: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    const cand = entry.isDirectory() ? newestMtime(p) : { path: p, mtime: statSync(p).mtimeMs };
    if (cand.mtime > best.mtime) best = cand;
  }
  return best;
}

/** Checks that dist/ is built (and says so when src/ changed after it). Returns warnings. */
export function checkDist(dist = DIST): string[] {
  const index = join(dist, 'index.js');
  if (!existsSync(index) || !existsSync(join(dist, 'cli', 'main.js'))) {
    throw new Error(
      `${index} is missing: run \`npm run build\` first (the benchmark measures the built library).`,
    );
  }
  const src = newestMtime(join(ROOT, 'src'));
  const built = newestMtime(dist);
  return src.mtime > built.mtime
    ? [
        `warning: ${src.path.slice(ROOT.length + 1)} is newer than ${dist} — the benchmark measures the build; run \`npm run build\` to measure the current sources.`,
      ]
    : [];
}

/** A build of the library to measure: its dist folder and the compiled child scripts that use it. */
export interface Build {
  dist: string;
  floor: string;
  pipeline: string;
  transfer: string;
  uploadPaths: string;
  /** Starts the emulator of this build: `node <script> emulator …`. */
  emulatorScript: string;
  /** Removes the snapshot. */
  dispose(): void;
}

/**
 * Copies `dist` (default: the checkout's dist/) to bench/.work/build-<pid>/dist and compiles the
 * child scripts against the copy. Node resolves the copy's packages from the checkout's
 * node_modules, as it does for dist/.
 */
export function snapshotDist(dist = DIST): Build {
  const dir = join(WORK_DIR, `build-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const copy = join(dir, 'dist');
  cpSync(resolve(dist), copy, {
    recursive: true,
    filter: (p) => !p.endsWith('.map') && !p.endsWith('.d.ts'),
  });
  const js = compileChildren(copy, join(dir, 'js'));
  const emulatorScript = join(dir, 'js', 'gemini-batch.js');
  // bin/gemini-batch.js, pointed at the copy.
  writeFileSync(
    emulatorScript,
    `import { main } from '${pathToFileURL(join(copy, 'cli', 'main.js')).href}';\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  return {
    dist: copy,
    ...js,
    emulatorScript,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Transpiles the child scripts to `outDir`, with `../src/…` imports pointed at `dist`. */
export function compileChildren(
  dist = DIST,
  outDir = join(WORK_DIR, 'js'),
): { floor: string; pipeline: string; transfer: string; uploadPaths: string } {
  mkdirSync(outDir, { recursive: true });
  const distUrl = pathToFileURL(dist).href;
  for (const name of CHILD_SOURCES) {
    const source = readFileSync(join(BENCH_DIR, name), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: name,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        sourceMap: false,
      },
    });
    const js = outputText.replace(/(['"])\.\.\/src\/([^'"]+)\1/g, (_m, q: string, rest: string) => {
      return `${q}${distUrl}/${rest}${q}`;
    });
    const out = join(outDir, name.replace(/\.ts$/, '.js'));
    // Atomic: a benchmark and the memory test may compile at the same time.
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, js);
    renameSync(tmp, out);
  }
  return {
    floor: join(outDir, 'floor.js'),
    pipeline: join(outDir, 'pipeline-run.js'),
    transfer: join(outDir, 'transfer-run.js'),
    uploadPaths: join(outDir, 'upload-paths-run.js'),
  };
}

/** /proc/<pid>/status fields in KiB (VmRSS, VmHWM), or undefined once the process is gone. */
export function procStatus(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    // A process that has exited but not been reaped yet (a zombie) has no VmRSS line.
    if (!/^VmRSS:/m.test(text)) return undefined;
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** User + system CPU of a live process, in ms (from /proc/<pid>/stat; clock ticks of 10 ms). */
export function procCpuMs(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the comm: state is field 3, utime 14, stime 15 (1-based over the whole line).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: Array<{ t: number; rssKb: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();
  peakKb = 0;

  constructor(
    readonly pid: number,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const s = procStatus(this.pid);
    if (!s) return;
    this.samples.push({ t: performance.now() - this.t0, rssKb: s.rssKb });
    this.peakKb = Math.max(this.peakKb, s.hwmKb);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** RSS (MB) at given fractions of the sampled span, e.g. [0.25, 0.5, 0.75, 1]. */
  at(fractions: number[]): number[] {
    if (this.samples.length === 0) return fractions.map(() => Number.NaN);
    const end = (this.samples[this.samples.length - 1] as { t: number }).t;
    return fractions.map((f) => {
      const t = end * f;
      const s = this.samples.find((x) => x.t >= t) ?? this.samples[this.samples.length - 1];
      return (s as { rssKb: number }).rssKb / 1024;
    });
  }
}

export interface EmulatorProcess {
  baseUrl: string;
  pid: number;
  /** Stops it; returns its peak RSS (KiB) and CPU (ms), read from /proc just before. */
  stop(): Promise<{ peakRssKb: number; cpuMs: number }>;
}

/**
 * Starts `node bin/gemini-batch.js emulator --port 0 --dir <dir>` (or the same command of a
 * snapshot build) and waits for the base URL it prints.
 */
export async function startEmulatorProcess(
  dir: string,
  script = join(ROOT, 'bin', 'gemini-batch.js'),
): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [script, 'emulator', '--port', '0', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const baseUrl = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    const onData = (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        resolveUrl(out.slice(0, nl).trim());
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`the emulator exited (${code}) before it listened: ${stderr}`)),
    );
    child.once('error', reject);
  });
  const pid = child.pid as number;
  const sampler = new RssSampler(pid, 250);
  return {
    baseUrl,
    pid,
    async stop() {
      sampler.sample();
      sampler.stop();
      const status = procStatus(pid);
      const cpuMs = procCpuMs(pid) ?? Number.NaN;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      return { peakRssKb: Math.max(sampler.peakKb, status?.hwmKb ?? 0), cpuMs };
    },
  };
}

export interface ChildRun {
  report: ChildReport;
  /** The child's RSS over its run, sampled from /proc. */
  sampler: RssSampler;
}

/** Runs `node [nodeArgs] script [args]`, samples its RSS, and returns the report it prints. */
export async function runChild(script: string, args: string[], nodeArgs: string[] = []): Promise<ChildRun> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const sampler = new RssSampler(child.pid as number, 100);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  sampler.stop();
  const line = stdout.split('\n').find((l) => l.startsWith(REPORT_PREFIX));
  if (code !== 0 || !line) {
    throw new Error(
      `${script} ${args.join(' ')} exited with ${code ?? signal}${line ? '' : ' without a report'}:\n${stderr}`,
    );
  }
  return { report: JSON.parse(line.slice(REPORT_PREFIX.length)) as ChildReport, sampler };
}

export function mb(kb: number): number {
  return kb / 1024;
}

export function bytesMb(bytes: number): number {
  return bytes / MB;
}

/** A machine line for reports: cores, CPU model, memory, Node version. */
export function machine(): string {
  let model = 'unknown CPU';
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux
  }
  const os = process.platform;
  const cores = availableParallelism();
  let memGb = '';
  try {
    const kb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
    memGb = `, ${(kb / 1024 / 1024).toFixed(0)} GB RAM`;
  } catch {
    // not Linux
  }
  return `${cores} cores (${model})${memGb}, ${os}, Node ${process.version}`;
}
