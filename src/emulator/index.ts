// A local emulator of the Gemini Developer API's Files and Batch REST protocol, for the real
// `@google/genai` SDK through `httpOptions.baseUrl`: offline development, tests, demos, benchmarks.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { acquireLock, type Lock } from '../state/lock.js';
import type { Core } from './context.js';
import { type FaultOptions, faultOptionsSchema, formatIssues, parseFaultOptions } from './fault-options.js';
import { type FaultApplied, FaultEngine } from './faults.js';
import { json, readJson } from './http.js';
import type { RouteId } from './route-ids.js';
import { RpcError } from './rpc.js';
import { Runner } from './runner.js';
import { createEmulatorServer } from './server.js';
import { type BatchRecord, Store, TERMINAL_STATES } from './store.js';

export { ECHO_CHARS, FAKE_MARKERS, fakeAnswerText, fakeTokens, promptText } from './fake-model.js';
export type {
  FaultOptions,
  HttpFaultAction,
  HttpFaultRule,
  JobFaultEffect,
  JobFaultRule,
} from './fault-options.js';
export { parseFaultOptions } from './fault-options.js';
export type { FaultApplied } from './faults.js';
export { API_ROUTE_IDS, type RouteId } from './route-ids.js';

const HOUR = 3_600_000;
const GIB = 1024 ** 3;

const optionsSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().min(1).default('127.0.0.1'),
  dir: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  pendingMs: z.number().min(0).default(0),
  runningMs: z.number().min(0).default(0),
  expireAfterMs: z
    .number()
    .positive()
    .default(48 * HOUR),
  fileTtlMs: z
    .number()
    .positive()
    .default(48 * HOUR),
  maxFileBytes: z
    .number()
    .int()
    .positive()
    .default(2 * GIB),
  storageLimitBytes: z
    .number()
    .int()
    .positive()
    .default(20 * GIB),
  maxActiveBatches: z.number().int().positive().default(100),
  enqueuedTokenLimit: z.number().positive().default(Number.POSITIVE_INFINITY),
  embeddingDimensions: z.number().int().positive().max(3072).default(3072),
  log: z.custom<(line: string) => void>((v) => typeof v === 'function').optional(),
  faults: faultOptionsSchema.optional(),
});

/** Options of {@link startEmulator}; every field is optional. */
export type EmulatorOptions = Omit<z.input<typeof optionsSchema>, 'faults'> & {
  /** Fault knobs (see fault-options.ts); replace them later with `setFaults` or `POST /_emulator/faults`. */
  faults?: FaultOptions;
};

/** Calls served so far, by route and HTTP status. */
export interface EmulatorStats {
  /** Per route: calls by HTTP status, and `dropped` for calls that got no full answer. */
  calls: Partial<Record<RouteId, Record<string, number>>>;
  /** Batches created by this emulator process (creates handled, whether answered or not). */
  batchesCreated: number;
  /** The faults that fired (the last 10 000): on which route's call `n`, or on which job. */
  faultsApplied: FaultApplied[];
  batches: Array<{
    name: string;
    displayName?: string;
    state: string;
    requestCount: number;
    successfulRequestCount: number;
    failedRequestCount: number;
  }>;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT`: pass it as `httpOptions.baseUrl`. */
  readonly baseUrl: string;
  readonly port: number;
  /** The directory that holds its files and jobs. */
  readonly dir: string;
  /** A key it accepts (the configured one, or `emulator-key` when any key is accepted). */
  readonly apiKey: string;
  /** Options for `new GoogleGenAI(...)` that point the SDK at this emulator. */
  clientOptions(apiVersion?: string): {
    apiKey: string;
    httpOptions: { baseUrl: string; apiVersion?: string };
  };
  stats(): EmulatorStats;
  /** Replaces the fault rules and resets their per-route and per-job counters. */
  setFaults(faults: FaultOptions): void;
  /** Stops serving; jobs in flight stop too (with `dir`, a later emulator resumes them). */
  close(): Promise<void>;
}

function describeBatch(b: BatchRecord): EmulatorStats['batches'][number] {
  return {
    name: `batches/${b.id}`,
    ...(b.displayName ? { displayName: b.displayName } : {}),
    state: b.state,
    requestCount: b.requestCount,
    successfulRequestCount: b.successful,
    failedRequestCount: b.failed,
  };
}

/**
 * Starts the emulator in this process (on a free port by default).
 *
 * @example
 * ```ts
 * import { GoogleGenAI } from '@google/genai';
 * import { startEmulator } from 'gemini-batch-stream/emulator';
 *
 * const emulator = await startEmulator();
 * const ai = new GoogleGenAI(emulator.clientOptions());
 * const job = await ai.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: 'Hi' }] });
 * console.log(job.state); // JOB_STATE_PENDING
 * await emulator.close();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`Invalid emulator options: ${formatIssues(parsed.error)}`);
  const opts = parsed.data;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gemini-emulator-'));
  // One emulator per directory: a second would clear the first's upload sessions and run its jobs
  // a second time (GBS_STATE_LOCKED; a lock left by a dead process is taken over).
  let lock: Lock | undefined;
  if (!ownDir) {
    mkdirSync(dir, { recursive: true });
    lock = acquireLock(join(dir, 'emulator.lock'), {
      inUse: (holder) =>
        `The emulator directory ${dir} is in use by ${holder}: one emulator per directory (a second would run its jobs again).`,
      contended: `The emulator directory ${dir} kept being taken by other processes.`,
    });
  }
  const store = new Store(dir);
  const runner = new Runner(store, opts);
  const faults = new FaultEngine(opts.faults ?? {});
  const core: Core = {
    store,
    runner,
    options: opts,
    uploads: new Map(),
    finishedUploads: new Map(),
    faults,
    counters: { batchesCreated: 0 },
  };
  const calls: EmulatorStats['calls'] = {};

  const stats = (): EmulatorStats => ({
    calls: structuredClone(calls),
    batchesCreated: core.counters.batchesCreated,
    faultsApplied: structuredClone(faults.applied),
    batches: [...store.batches.values()]
      .sort((a, b) => a.createTime.localeCompare(b.createTime))
      .map(describeBatch),
  });

  const server = createEmulatorServer(core, {
    authorize(key) {
      if (!key) {
        return new RpcError(
          'PERMISSION_DENIED',
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        );
      }
      if (opts.apiKey !== undefined && key !== opts.apiKey) {
        return new RpcError('INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', {
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: 'API_KEY_INVALID',
              domain: 'googleapis.com',
              metadata: { service: 'generativelanguage.googleapis.com' },
            },
            {
              '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
              locale: 'en-US',
              message: 'API key not valid. Please pass a valid API key.',
            },
          ],
        });
      }
      return undefined;
    },
    async admin({ req, path }) {
      if (path === 'faults' && req.method === 'POST') {
        const body = await readJson(req);
        try {
          faults.set(parseFaultOptions(body));
        } catch (err) {
          throw new RpcError('INVALID_ARGUMENT', (err as Error).message);
        }
        return json({ faults: faults.current });
      }
      req.resume();
      if (path === 'faults' && req.method === 'GET') return json({ faults: faults.current });
      if (path === 'stats' && req.method === 'GET') return json(stats());
      return undefined;
    },
    fault: (route) => faults.decideHttp(route)?.action,
    onCall(route, status) {
      const byStatus = calls[route] ?? {};
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      calls[route] = byStatus;
    },
    ...(opts.log ? { log: opts.log } : {}),
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  // Jobs left PENDING or RUNNING by an earlier emulator on this dir carry on.
  for (const batch of store.batches.values()) if (!TERMINAL_STATES.has(batch.state)) runner.start(batch);

  const apiKey = opts.apiKey ?? 'emulator-key';
  let closed: Promise<void> | undefined;
  return {
    baseUrl,
    port,
    dir,
    apiKey,
    clientOptions: (apiVersion) => ({
      apiKey,
      httpOptions: { baseUrl, ...(apiVersion ? { apiVersion } : {}) },
    }),
    stats,
    setFaults(options) {
      faults.set(parseFaultOptions(options));
    },
    close() {
      closed ??= (async () => {
        await runner.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (ownDir) rmSync(dir, { recursive: true, force: true });
        lock?.release();
      })();
      return closed;
    },
  };
}
