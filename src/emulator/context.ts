// What every route handler sees: the request, the parsed path, and the emulator's shared state.

import type { IncomingMessage, ServerResponse } from 'node:http';
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
  path: string;
  file: { name?: string; displayName?: string; mimeType: string };
}

export interface Core {
  store: Store;
  runner: Runner;
  options: CoreOptions;
  uploads: Map<string, UploadSession>;
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
}
