// Batch API: create (generateContent and embedContent, from a file or inline), get, list, cancel,
// delete. Each batch is a long-running Operation named `batches/{id}`.

import { readLines } from '../util/lines.js';
import type { RouteContext } from './context.js';
import { camel, fakeTokens, promptText } from './fake-model.js';
import { listPage, liveFile, permissionDenied } from './files.js';
import { json, type Reply, readJson } from './http.js';
import { RpcError } from './rpc.js';
import { type BatchRecord, type InlineRequest, randomId, TERMINAL_STATES } from './store.js';
import { batchToOperation, nowIso } from './wire.js';

const BATCH_FIELDS = new Set(['displayName', 'inputConfig', 'webhookConfig', 'priority', 'model', 'name']);
const INPUT_FIELDS = new Set(['fileName', 'requests']);

function rejectUnknown(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(camel(key))) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Unknown name "${key}" at '${where}': Cannot find field.`,
      );
    }
  }
}

function pick(obj: Record<string, unknown>, name: string): [unknown, string] {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return name in obj ? [obj[name], name] : [obj[snake], snake];
}

/** Counts a JSONL input file's requests and tokens; an unparsable line refuses the whole batch. */
async function scanInputFile(path: string): Promise<{ count: number; tokens: number }> {
  let count = 0;
  let tokens = 0;
  let lineNo = 0;
  for await (const line of readLines(path)) {
    lineNo++;
    if (line.trim() === '') continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      const detail = (err as Error).message;
      throw new RpcError('INVALID_ARGUMENT', `Error on line ${lineNo}: invalid JSON: ${detail}`);
    }
    count++;
    const request = parsed?.request;
    if (typeof request === 'object' && request !== null)
      tokens += fakeTokens(promptText(request as Record<string, unknown>));
  }
  return { count, tokens };
}

function enqueuedTokens(ctx: RouteContext, model: string): number {
  let total = 0;
  for (const b of ctx.core.store.batches.values()) {
    if (b.model === model && !TERMINAL_STATES.has(b.state)) total += b.enqueuedTokens ?? 0;
  }
  return total;
}

/** `POST /{v}/models/{m}:batchGenerateContent` and `:asyncBatchEmbedContent`. */
export async function createBatch(ctx: RouteContext, kind: 'generate' | 'embed'): Promise<Reply> {
  const { core } = ctx;
  const model = `${ctx.params[0]}/${ctx.params[1]}`;
  const body = await readJson(ctx.req);
  rejectUnknown(body, new Set(['batch']), 'body');
  const batch = body.batch;
  if (typeof batch !== 'object' || batch === null) {
    throw new RpcError('INVALID_ARGUMENT', '* BatchGenerateContentRequest.batch: batch is required\n');
  }
  const spec = batch as Record<string, unknown>;
  rejectUnknown(spec, BATCH_FIELDS, 'batch');
  const [input] = pick(spec, 'inputConfig');
  if (typeof input !== 'object' || input === null) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      '* BatchGenerateContentRequest.batch.input_config: input_config is required\n',
    );
  }
  const inputConfig = input as Record<string, unknown>;
  rejectUnknown(inputConfig, INPUT_FIELDS, 'batch.input_config');
  const [fileName, fileKey] = pick(inputConfig, 'fileName');
  const requests = inputConfig.requests as { requests?: unknown } | undefined;
  if ((fileName === undefined) === (requests === undefined)) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      '* batch.input_config: exactly one of file_name or requests must be set\n',
    );
  }

  const active = [...core.store.batches.values()].filter((b) => !TERMINAL_STATES.has(b.state)).length;
  if (active >= core.options.maxActiveBatches) {
    throw new RpcError(
      'RESOURCE_EXHAUSTED',
      `Too many concurrent batches: at most ${core.options.maxActiveBatches} may be active.`,
    );
  }

  let requestCount: number;
  let tokens = 0;
  let inputFile: string | undefined;
  let inlineRequests: InlineRequest[] | undefined;
  if (fileName !== undefined) {
    const id = core.store.fileId(String(fileName));
    // Fault `expireInput`: the input file reached its 48 h just before this create.
    if (ctx.fault?.type === 'expireInput') core.store.deleteFile(id);
    const file = liveFile(ctx, id);
    if (!file) throw permissionDenied(id);
    if (file.source !== 'UPLOADED') {
      throw new RpcError('INVALID_ARGUMENT', `files/${id} is not an uploaded file.`);
    }
    ({ count: requestCount, tokens } = await scanInputFile(core.store.abs(file.dataPath)));
    inputFile = `files/${id}`;
  } else {
    const list = requests?.requests;
    if (!Array.isArray(list) || list.length === 0) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        '* batch.input_config.requests.requests: at least one request is required\n',
      );
    }
    inlineRequests = list.map((item, i) => {
      if (typeof item !== 'object' || item === null || typeof (item as InlineRequest).request !== 'object') {
        throw new RpcError(
          'INVALID_ARGUMENT',
          `* batch.input_config.requests.requests[${i}].request: request is required\n`,
        );
      }
      const { request, metadata } = item as InlineRequest;
      tokens += fakeTokens(promptText(request));
      return { request, ...(metadata ? { metadata } : {}) };
    });
    requestCount = inlineRequests.length;
  }
  if (enqueuedTokens(ctx, model) + tokens > core.options.enqueuedTokenLimit) {
    throw new RpcError(
      'RESOURCE_EXHAUSTED',
      `Enqueued token limit exceeded for ${model}: ${core.options.enqueuedTokenLimit} tokens may be enqueued at once.`,
    );
  }

  const now = nowIso();
  const [displayName] = pick(spec, 'displayName');
  const [webhookConfig] = pick(spec, 'webhookConfig');
  const id = randomId(36);
  const name = typeof displayName === 'string' && displayName ? displayName : undefined;
  const faults = core.faults.decideJob(name, `batches/${id}`);
  core.counters.batchesCreated++;
  const record: BatchRecord = {
    id,
    kind,
    model,
    ...(name ? { displayName: name } : {}),
    createTime: now,
    updateTime: now,
    state: 'BATCH_STATE_PENDING',
    ...(inputFile ? { inputFile, inputFileKey: fileKey } : {}),
    ...(inlineRequests ? { inlineRequests } : {}),
    requestCount,
    successful: 0,
    failed: 0,
    ...(webhookConfig !== undefined ? { webhookConfig } : {}),
    ...(spec.priority !== undefined ? { priority: String(spec.priority) } : {}),
    enqueuedTokens: tokens,
    ...(faults ? { faults } : {}),
  };
  core.store.saveBatch(record);
  core.runner.start(record);
  return json(batchToOperation(record));
}

function findBatch(ctx: RouteContext): BatchRecord {
  const batch = ctx.core.store.batches.get(ctx.params[0] ?? '');
  if (!batch) throw new RpcError('NOT_FOUND', 'Requested entity was not found.');
  return batch;
}

/** `GET /{v}/batches/{id}`. */
export async function getBatch(ctx: RouteContext): Promise<Reply> {
  return json(batchToOperation(findBatch(ctx)));
}

/** `GET /{v}/batches?pageSize&pageToken`, newest first, without inline results. */
export async function listBatches(ctx: RouteContext): Promise<Reply> {
  const all = [...ctx.core.store.batches.values()].sort(
    (a, b) => b.createTime.localeCompare(a.createTime) || a.id.localeCompare(b.id),
  );
  return listPage(ctx, all, 'operations', (b) => batchToOperation(b, false));
}

/** `POST /{v}/batches/{id}:cancel` → `{}`; best effort, partial results are kept. */
export async function cancelBatch(ctx: RouteContext): Promise<Reply> {
  const batch = findBatch(ctx);
  ctx.req.resume();
  if (TERMINAL_STATES.has(batch.state)) {
    throw new RpcError('FAILED_PRECONDITION', `The batch is already finished (${batch.state}).`);
  }
  await ctx.core.runner.cancel(batch);
  return json({});
}

/** `DELETE /{v}/batches/{id}` → `{}`; the job stops and leaves the list. */
export async function deleteBatch(ctx: RouteContext): Promise<Reply> {
  const batch = findBatch(ctx);
  ctx.req.resume();
  await ctx.core.runner.stop(batch.id, 'delete');
  ctx.core.store.deleteBatch(batch.id);
  return json({});
}
