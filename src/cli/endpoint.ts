// Where requests go: the real Gemini API (GEMINI_API_KEY), an emulator started in this process
// (--emulator), or one already running (--emulator-url). Fake answers are labelled as such, and a
// state directory never mixes them with real ones.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { startEmulator } from '../emulator/index.js';
import { GbsError } from '../index.js';
import { onStateDir } from './paths.js';
import { UsageError } from './usage.js';

export type Endpoint = { kind: 'api' } | { kind: 'emulator' } | { kind: 'emulator-url'; url: string };

export const NO_KEY_MESSAGE =
  'No API key. Set GEMINI_API_KEY to use the Gemini API (billed), or pass --emulator to try it on the ' +
  'built-in emulator (free, FAKE answers).';

export const FAKE_BANNER =
  'FAKE ANSWERS: this runs on the emulator, whose model only echoes prompts. Nothing here is a real answer or a real cost.';

/** The endpoint the flags and the environment ask for; without one, a UsageError if `required`. */
export function endpointFrom(
  values: { emulator?: boolean; 'emulator-url'?: string },
  required: boolean,
): Endpoint | undefined {
  const url = values['emulator-url'];
  if (values.emulator && url !== undefined)
    throw new UsageError('--emulator and --emulator-url: give one of them');
  if (url !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(url))
      throw new UsageError(`--emulator-url must be an http:// URL, got "${url}"`);
    return { kind: 'emulator-url', url: url.replace(/\/+$/, '') };
  }
  if (values.emulator) return { kind: 'emulator' };
  if (process.env.GEMINI_API_KEY || process.env.GOOGLE_API_KEY) return { kind: 'api' };
  if (required) throw new UsageError(NO_KEY_MESSAGE);
  return undefined;
}

export const isFake = (endpoint: Endpoint | undefined): boolean =>
  endpoint !== undefined && endpoint.kind !== 'api';

export interface Connection {
  client: GoogleGenAI;
  /** For people: where the requests go. */
  label: string;
  /** Emulator jobs finish in seconds: poll accordingly. */
  fast: boolean;
  close(): Promise<void>;
}

/**
 * A client for the endpoint. The in-process emulator keeps its files and jobs in `emulatorDir`
 * (inside the state directory), so a rerun after Ctrl-C finds its jobs again.
 */
export async function connect(endpoint: Endpoint, emulatorDir?: string): Promise<Connection> {
  if (endpoint.kind === 'api') {
    const base = process.env.GOOGLE_GEMINI_BASE_URL;
    return {
      client: new GoogleGenAI({}),
      label: base ? `the Gemini API at ${base} (GOOGLE_GEMINI_BASE_URL)` : 'the Gemini API',
      fast: false,
      close: async () => {},
    };
  }
  if (endpoint.kind === 'emulator-url') {
    return {
      client: new GoogleGenAI({
        apiKey: process.env.GEMINI_API_KEY ?? 'emulator-key',
        httpOptions: { baseUrl: endpoint.url },
      }),
      label: `the emulator at ${endpoint.url}`,
      fast: true,
      close: async () => {},
    };
  }
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator({
      pendingMs: 200,
      runningMs: 1000,
      ...(emulatorDir ? { dir: emulatorDir } : {}),
    });
  } catch (err) {
    // One emulator per directory: a second one here would run the live run's jobs again.
    if (!emulatorDir || (err as { code?: string }).code !== 'GBS_STATE_LOCKED') throw err;
    throw new GbsError(
      'GBS_STATE_LOCKED',
      `A run with --emulator is going on in ${dirname(emulatorDir)}: its jobs live in that process's emulator. Stop it (Ctrl-C) first.`,
      { cause: err },
    );
  }
  return {
    client: new GoogleGenAI(emulator.clientOptions()),
    label: `the built-in emulator (${emulator.baseUrl})`,
    fast: true,
    close: () => emulator.close(),
  };
}

export interface Marker {
  answers: 'fake' | 'real';
  endpoint: string;
}

/** What `cli.json` in a state directory says about where its answers came from. */
export function readMarker(stateDir: string): Marker | undefined {
  const path = join(stateDir, 'cli.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/** Refuses a state directory whose answers are of the other kind (fake vs real); marks a new one. */
export function claimStateDir(stateDir: string, endpoint: Endpoint): void {
  const answers = isFake(endpoint) ? 'fake' : 'real';
  const marker = readMarker(stateDir);
  if (marker && marker.answers !== answers) {
    throw new UsageError(
      marker.answers === 'fake'
        ? `--state ${stateDir} holds FAKE answers from an emulator run; use another --state for the Gemini API.`
        : `--state ${stateDir} holds a run on the Gemini API; use another --state for the emulator.`,
    );
  }
  if (marker) return;
  const label = endpoint.kind === 'emulator-url' ? endpoint.url : endpoint.kind;
  onStateDir(stateDir, () => {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'cli.json'), `${JSON.stringify({ answers, endpoint: label }, null, 2)}\n`);
  });
}
