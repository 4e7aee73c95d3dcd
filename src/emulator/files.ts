// Files API: get / list / delete / download of stored files (uploads: uploads.ts), and the list
// paging the batch routes share.

import { createReadStream } from 'node:fs';
import type { RouteContext } from './context.js';
import { afterEndFault } from './faults.js';
import { json, type Reply } from './http.js';
import { RpcError } from './rpc.js';
import type { FileRecord } from './store.js';
import { fileToWire } from './wire.js';

/** A live (not expired) file, or undefined. Expired files are removed on sight, as the API does. */
export function liveFile(ctx: RouteContext, id: string): FileRecord | undefined {
  const file = ctx.core.store.files.get(id);
  if (file && Date.parse(file.expirationTime) <= Date.now()) {
    ctx.core.store.deleteFile(id);
    return undefined;
  }
  return file;
}

export const permissionDenied = (id: string) =>
  new RpcError(
    'PERMISSION_DENIED',
    `You do not have permission to access the File ${id} or it may not exist.`,
  );

function checkIdLength(id: string, request: string): void {
  if (id.length > 40) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `* ${request}.name: File ID (name excluding 'files/') cannot be more than 40 characters.\n`,
    );
  }
}

/** Job fault `outputNotReady`: a job's output file answers 404 for a while after the job ended. */
function checkOutputReady(ctx: RouteContext, id: string): void {
  if (!id.startsWith('batch-')) return;
  const batch = ctx.core.store.batches.get(id.slice('batch-'.length));
  if (batch && afterEndFault(batch.faults, 'outputNotReady', batch.endTime))
    throw new RpcError('NOT_FOUND', `File files/${id} was not found.`);
}

/** `GET /{v}/files/{id}`. */
export async function getFile(ctx: RouteContext): Promise<Reply> {
  const id = ctx.params[0] ?? '';
  checkIdLength(id, 'GetFileRequest');
  const file = liveFile(ctx, id);
  if (!file) throw permissionDenied(id);
  checkOutputReady(ctx, id);
  return json(fileToWire(file, ctx.origin, ctx.version));
}

/** `DELETE /{v}/files/{id}` → `{}`. */
export async function deleteFile(ctx: RouteContext): Promise<Reply> {
  const id = ctx.params[0] ?? '';
  checkIdLength(id, 'DeleteFileRequest');
  if (!liveFile(ctx, id)) throw permissionDenied(id);
  ctx.core.store.deleteFile(id);
  return json({});
}

/** `GET /{v}/files?pageSize&pageToken`, newest first; no `nextPageToken` on the last page. */
export async function listFiles(ctx: RouteContext): Promise<Reply> {
  const files = [...ctx.core.store.files.keys()]
    .map((id) => liveFile(ctx, id))
    .filter((f): f is FileRecord => f !== undefined)
    .sort((a, b) => b.createTime.localeCompare(a.createTime) || a.name.localeCompare(b.name));
  return listPage(ctx, files, 'files', (f) => fileToWire(f, ctx.origin, ctx.version));
}

/** `GET /{v}/files/{id}:download?alt=media` (also under `/download/`): the raw bytes, streamed. */
export async function downloadFile(ctx: RouteContext): Promise<Reply> {
  const id = ctx.params[0] ?? '';
  const file = liveFile(ctx, id);
  if (!file) throw new RpcError('NOT_FOUND', `File files/${id} was not found.`);
  checkOutputReady(ctx, id);
  if (file.source !== 'GENERATED') {
    // The real API's words (captured 2026-08-31; python-genai: "Files created by `upload` can't be downloaded").
    throw new RpcError('INVALID_ARGUMENT', 'Only GENERATED files can be downloaded.');
  }
  return {
    kind: 'stream',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.sizeBytes) },
    open: () => createReadStream(ctx.core.store.abs(file.dataPath)),
  };
}

/**
 * A list route's answer, `{ [field]: [...], nextPageToken }`, by offset paging (pageSize default 10,
 * at most 100); an empty page leaves out `field`, the last page `nextPageToken`.
 */
export function listPage<T>(ctx: RouteContext, all: T[], field: string, toWire: (item: T) => unknown): Reply {
  const sizeParam = ctx.url.searchParams.get('pageSize');
  if (sizeParam !== null && !/^-?\d+$/.test(sizeParam)) {
    // As the real front end parses an int32 query parameter.
    throw new RpcError('INVALID_ARGUMENT', `Invalid value at 'page_size' (TYPE_INT32), "${sizeParam}"`);
  }
  const size = sizeParam ? Math.min(Math.max(1, Number(sizeParam) || 10), 100) : 10;
  const token = ctx.url.searchParams.get('pageToken');
  let start = 0;
  if (token) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new RpcError('INVALID_ARGUMENT', 'Invalid page token.');
  }
  const items = all.slice(start, start + size);
  const next = start + size;
  return json({
    ...(items.length > 0 ? { [field]: items.map(toWire) } : {}),
    ...(next < all.length ? { nextPageToken: Buffer.from(String(next)).toString('base64url') } : {}),
  });
}
