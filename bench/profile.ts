// Reads a V8 .cpuprofile (node --cpu-prof) and aggregates where the time went: self time per
// function (name + file:line), inclusive time of the library's own functions, and totals by
// area (library, each node_modules package, Node internals, GC, idle).
//
//   node --import tsx bench/profile.ts bench/.work/prof/pipeline-1000000.cpuprofile [--rows N] [--top 25]

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  area: string;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time that was not idle. */
  busyMs: number;
  self: ProfileEntry[];
  /** Inclusive time of functions in the library (dist/ or src/), each sample counted once per function. */
  inclusive: ProfileEntry[];
  areas: Array<{ area: string; ms: number }>;
}

/** Which part of the program a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program (native, unattributed)';
    return 'native / builtins';
  }
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `npm: ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.includes('/dist/') || url.includes('/src/')) return 'library (src/)';
  if (url.includes('/bench/')) return 'bench script (the child around the pipeline)';
  return 'other';
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  // The library runs from dist/ (or a snapshot of it); line numbers are those of the built file.
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return `dist/${url.slice(dist + '/dist/'.length)}`;
  const m = /\/(src|bench)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url.replace(/^file:\/\//, '');
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const keyOf = (f: CallFrame) =>
    `${f.functionName || '(anonymous)'}\u0000${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  const self = new Map<string, ProfileEntry>();
  const inclusive = new Map<string, ProfileEntry>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // Sample i lasts until the next one.
    const dt = (timeDeltas[i + 1] ?? 0) / 1000;
    if (dt <= 0) continue;
    const node = byId.get(samples[i] as number);
    if (!node) continue;
    total += dt;
    const frame = node.callFrame;
    const area = areaOf(frame);
    if (area === 'idle') idle += dt;
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const key = keyOf(frame);
    let entry = self.get(key);
    if (!entry) {
      const [name, where] = key.split('\u0000') as [string, string];
      entry = { name, where, area, ms: 0 };
      self.set(key, entry);
    }
    entry.ms += dt;
    // Inclusive time of library functions on the stack (each once per sample).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = (byId.get(id) as ProfileNode).callFrame;
      if (areaOf(f) !== 'library (src/)') continue;
      const k = keyOf(f);
      if (seen.has(k)) continue;
      seen.add(k);
      let inc = inclusive.get(k);
      if (!inc) {
        const [name, where] = k.split('\u0000') as [string, string];
        inc = { name, where, area: 'library (src/)', ms: 0 };
        inclusive.set(k, inc);
      }
      inc.ms += dt;
    }
  }
  const sorted = <T extends { ms: number }>(xs: Iterable<T>) => [...xs].sort((a, b) => b.ms - a.ms);
  return {
    totalMs: total,
    busyMs: total - idle,
    self: sorted(self.values()).filter((e) => e.area !== 'idle'),
    inclusive: sorted(inclusive.values()),
    areas: sorted([...areas].map(([area, ms]) => ({ area, ms }))),
  };
}

export function readProfile(path: string): ProfileSummary {
  return summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile);
}

/**
 * A text report: areas, the top `top` self-time functions, and the library's inclusive times.
 * Library frames are named by their built file (dist/…, lines of the .js; src/ has the same names).
 * The profiler samples the main thread's wall time: a synchronous fsync shows as busy time.
 */
export function formatProfile(s: ProfileSummary, rows: number, top = 25): string {
  const pct = (ms: number) => `${((100 * ms) / s.busyMs).toFixed(1).padStart(5)}%`;
  const perRow = (ms: number) => `${((ms * 1000) / rows).toFixed(2).padStart(7)} µs/row`;
  const lines: string[] = [];
  lines.push(
    `Sampled ${(s.totalMs / 1000).toFixed(2)} s, busy (not idle) ${(s.busyMs / 1000).toFixed(2)} s on the main thread; % of busy time.`,
  );
  lines.push('', 'By area (self time):');
  for (const a of s.areas) {
    if (a.area === 'idle') continue;
    lines.push(`  ${pct(a.ms)} ${perRow(a.ms)}  ${a.area}`);
  }
  lines.push('', `Top ${top} functions by self time:`);
  for (const e of s.self.slice(0, top)) {
    lines.push(`  ${pct(e.ms)} ${perRow(e.ms)}  ${e.name}  ${e.where}`);
  }
  lines.push('', 'Library functions by inclusive time (callees included):');
  for (const e of s.inclusive.slice(0, 20)) {
    lines.push(`  ${pct(e.ms)} ${perRow(e.ms)}  ${e.name}  ${e.where}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const path = args.find((a) => !a.startsWith('--'));
  if (!path) throw new Error('usage: profile.ts <file.cpuprofile> [--rows N] [--top 25]');
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  process.stdout.write(
    `${formatProfile(readProfile(path), Number(get('rows') ?? 1), Number(get('top') ?? 25))}\n`,
  );
}
