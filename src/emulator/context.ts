// What every route handler sees: the request, the parsed path, and the emulator's shared state.

import type { Hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpFaultAction } from './fault-options.js';
import type { FaultEngine } from './faults.js';
import type { Runner, RunnerOptions } from './runner.js';
import type { Store } from './store.js';

export interface CoreOptions extends RunnerOptions {
  /** Largest file the Files API accepts (the real API: 2 GB). */
  maxFileBytes: number;
  /** Bytes all files together may take (the real API: 20 GB per project). */
  storageLimitBytes: number;
  /** Batches that may be PENDING or RUNNING at once (the real API: 100). */
  maxActiveBatches: number;
  /** Tokens (fake tokenizer) all active jobs of one model may hold; past it, create answers 429. */
  enqueuedTokenLimit: number;
}

export interface UploadSession {
  id: string;
  version: string;
  declaredSize: number;
  received: number;
  /** The SHA-256 of the `received` bytes stored at `path`, as they came in; undefined while (or
   *  once) that is not sure: finalize then reads the file. */
  hash: Hash | undefined;
  path: string;
  file: { name?: string; displayName?: string; mimeType: string };
  /** The command being served: the next one on this session waits for it. */
  busy?: Promise<unknown>;
}

export interface Core {
  store: Store;
  runner: Runner;
  options: CoreOptions;
  uploads: Map<string, UploadSession>;
  /** Recently finalized uploads (id → file name): a resent final chunk gets the final answer again. */
  finishedUploads: Map<string, string>;
  /** Decides HTTP faults per call and job faults per create. */
  faults: FaultEngine;
  /** Batches created by this emulator process (a create that was handled, answered or not). */
  counters: { batchesCreated: number };
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** `v1beta`, `v1` or `v1alpha`, from the path. */
  version: string;
  /** Captures of the route's pattern after the version. */
  params: string[];
  /** `http://host:port` as the client reached us (for absolute URLs we hand out). */
  origin: string;
  core: Core;
  /** The HTTP fault this call gets, if any (handlers act on `expireInput` and `wrongSize`). */
  fault?: HttpFaultAction;
}
