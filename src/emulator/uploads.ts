// Files API: the resumable upload protocol. A start opens a session; its commands (upload, finalize,
// query, cancel) are served one at a time per session, and finalize makes the file record.

import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RouteContext, UploadSession } from './context.js';
import { liveFile } from './files.js';
import { header, json, type Reply, readJson } from './http.js';
import { RpcError } from './rpc.js';
import { type FileRecord, randomId } from './store.js';
import { fileToWire, newFileTimes } from './wire.js';

const FILE_ID = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
/** Finished upload sessions remembered for a resent final chunk. */
const MAX_FINISHED_UPLOADS = 1000;

/** `POST /upload/{v}/files` with `X-Goog-Upload-Command: start`. */
export async function uploadStart(ctx: RouteContext): Promise<Reply> {
  const { core } = ctx;
  if (
    header(ctx.req, 'x-goog-upload-protocol') !== 'resumable' ||
    header(ctx.req, 'x-goog-upload-command') !== 'start'
  ) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      'The emulator accepts only resumable uploads (X-Goog-Upload-Protocol: resumable, X-Goog-Upload-Command: start).',
    );
  }
  const body = await readJson(ctx.req);
  const meta = (body.file ?? {}) as Record<string, unknown>;
  const sizeText = header(ctx.req, 'x-goog-upload-header-content-length') ?? meta.sizeBytes;
  const declaredSize = Number(sizeText);
  if (sizeText === undefined || !Number.isInteger(declaredSize) || declaredSize < 0) {
    throw new RpcError('INVALID_ARGUMENT', 'X-Goog-Upload-Header-Content-Length is missing or not a size.');
  }
  if (declaredSize > core.options.maxFileBytes) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `File size ${declaredSize} exceeds the limit of ${core.options.maxFileBytes} bytes.`,
    );
  }
  const stored = core.store.storedBytes();
  if (stored + declaredSize > core.options.storageLimitBytes) {
    // As the real API refuses at the 20 GiB cap (reported in public issues): a quota error.
    const limit = core.options.storageLimitBytes;
    throw new RpcError(
      'RESOURCE_EXHAUSTED',
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n' +
        `* Quota exceeded for metric: generativelanguage.googleapis.com/file_storage_bytes, limit: ${limit}`,
      {
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [
              {
                quotaMetric: 'generativelanguage.googleapis.com/file_storage_bytes',
                quotaId: 'FileStorageBytesPerProject',
                quotaValue: String(limit),
              },
            ],
          },
          {
            '@type': 'type.googleapis.com/google.rpc.Help',
            links: [
              {
                description: 'Learn more about Gemini API quotas',
                url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
              },
            ],
          },
        ],
      },
    );
  }
  const mimeType = String(header(ctx.req, 'x-goog-upload-header-content-type') ?? meta.mimeType ?? '');
  if (!mimeType) throw new RpcError('INVALID_ARGUMENT', 'The file has no MIME type.');
  let name: string | undefined;
  if (typeof meta.name === 'string') {
    const id = core.store.fileId(meta.name);
    if (!FILE_ID.test(id)) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid file name "${meta.name}": up to 40 lowercase letters, digits or dashes.`,
      );
    }
    if (core.store.files.has(id)) throw new RpcError('ALREADY_EXISTS', `File files/${id} already exists.`);
    name = `files/${id}`;
  }
  const id = randomId(32);
  const session: UploadSession = {
    id,
    version: ctx.version,
    declaredSize,
    received: 0,
    hash: createHash('sha256'),
    path: core.store.abs(`uploads/${id}`),
    file: {
      mimeType,
      ...(name ? { name } : {}),
      ...(typeof meta.displayName === 'string' ? { displayName: meta.displayName } : {}),
    },
  };
  // Created at once, so a failure (disk full, no descriptors) is this call's error, not a crash later.
  writeFileSync(session.path, '');
  core.uploads.set(id, session);
  return {
    kind: 'empty',
    headers: {
      'x-goog-upload-url': `${ctx.origin}/upload/${ctx.version}/files?upload_id=${id}&upload_protocol=resumable`,
      'x-goog-upload-status': 'active',
      'x-goog-upload-chunk-granularity': '262144',
    },
  };
}

/** `POST <upload url>`: `upload`, `upload, finalize`, `finalize`, `query` or `cancel`. */
export async function uploadChunk(ctx: RouteContext): Promise<Reply> {
  const { core } = ctx;
  const uploadId = ctx.url.searchParams.get('upload_id') ?? '';
  // One command at a time per session, as an upload server serves them: a query sent while a
  // chunk that was cut off is still being written waits until its bytes are forgotten.
  for (;;) {
    const busy = core.uploads.get(uploadId)?.busy;
    if (!busy) break;
    await busy.catch(() => undefined);
  }
  const session = core.uploads.get(uploadId);
  if (session) {
    const serving = serveUploadCommand(ctx, session);
    session.busy = serving;
    try {
      return await serving;
    } finally {
      session.busy = undefined;
    }
  }
  // A finished upload answers `final` again (e.g. the SDK resends a final chunk whose answer lacked
  // x-goog-upload-status), as long as the file lives.
  const finished = core.finishedUploads.get(uploadId);
  const file = finished ? liveFile(ctx, core.store.fileId(finished)) : undefined;
  ctx.req.resume();
  if (!file) throw new RpcError('NOT_FOUND', 'No upload session with this upload_id.');
  return json({ file: fileToWire(file, ctx.origin, ctx.version) }, { 'x-goog-upload-status': 'final' });
}

async function serveUploadCommand(ctx: RouteContext, session: UploadSession): Promise<Reply> {
  const { core } = ctx;
  const commands = (header(ctx.req, 'x-goog-upload-command') ?? '').split(',').map((c) => c.trim());
  // An open session's status, on its answers and on the errors that leave it open.
  const activeHeaders = () => ({
    'x-goog-upload-status': 'active',
    'x-goog-upload-size-received': String(session.received),
  });
  const active = (): Reply => ({ kind: 'empty', headers: activeHeaders() });

  if (commands.includes('query')) return active();
  if (commands.includes('cancel')) {
    core.uploads.delete(session.id);
    rmSync(session.path, { force: true });
    return { kind: 'empty', headers: { 'x-goog-upload-status': 'cancelled' } };
  }
  if (commands.includes('upload')) {
    const offset = Number(header(ctx.req, 'x-goog-upload-offset'));
    if (offset !== session.received) {
      ctx.req.resume();
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid upload offset ${offset}: ${session.received} bytes were received so far.`,
        { headers: activeHeaders() },
      );
    }
    // The hash goes on with a copy: only a chunk stored whole adds to it (one cut off or refused is
    // truncated away, and the hash before it still holds); anything unforeseen leaves it unknown.
    const before = session.hash;
    session.hash = undefined;
    const hash = before?.copy();
    // Bytes past the declared size are read and dropped (memory and disk stay bounded), then refused.
    const room = session.declaredSize - session.received;
    let taken = 0;
    let overflow = false;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (!overflow && taken + chunk.length <= room) {
          taken += chunk.length;
          hash?.update(chunk);
          done(null, chunk);
        } else {
          overflow = true;
          done();
        }
      },
    });
    const out = createWriteStream(session.path, { flags: 'a' });
    try {
      await pipeline(ctx.req, limit, out);
    } catch (err) {
      // A chunk cut off mid-way: forget its bytes so the offset stays true, once the file stream is
      // closed (a write still in flight would otherwise land after the truncation; not events.once,
      // which rejects on the stream's 'error').
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      truncateSync(session.path, session.received);
      session.hash = before;
      throw err;
    }
    if (overflow) {
      truncateSync(session.path, session.received);
      session.hash = before;
      throw new RpcError(
        'INVALID_ARGUMENT',
        `The upload chunk goes past the declared size of ${session.declaredSize} bytes (${session.received} received so far).`,
        { headers: activeHeaders() },
      );
    }
    const size = statSync(session.path).size;
    if (size === session.received + taken) session.hash = hash;
    session.received = size;
  } else {
    ctx.req.resume();
  }
  if (!commands.includes('finalize')) return active();

  if (session.received !== session.declaredSize) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Upload finalized with ${session.received} bytes, but ${session.declaredSize} were declared.`,
      { headers: { 'x-goog-upload-status': 'active' } },
    );
  }
  // Out of reach of other calls while it is finalized; back in reach if that fails before the bytes
  // are moved (the client may finalize again).
  core.uploads.delete(session.id);
  if (ctx.fault?.type === 'wrongSize') {
    // Fault `wrongSize`: the end of the upload is lost; the file is kept with half of its bytes.
    session.received = Math.floor(session.received / 2);
    truncateSync(session.path, session.received);
    session.hash = undefined;
  }
  let hash = session.hash;
  const name = session.file.name ?? `files/${randomId(12)}`;
  const dataPath = `data/${name.slice('files/'.length)}`;
  try {
    if (!hash) {
      hash = createHash('sha256');
      await pipeline(createReadStream(session.path), hash);
    }
    renameSync(session.path, core.store.abs(dataPath));
  } catch (err) {
    core.uploads.set(session.id, session);
    throw err;
  }
  const file: FileRecord = {
    name,
    ...(session.file.displayName ? { displayName: session.file.displayName } : {}),
    mimeType: session.file.mimeType,
    sizeBytes: session.received,
    ...newFileTimes(core.options.fileTtlMs),
    sha256Hash: hash.digest('base64'),
    source: 'UPLOADED',
    dataPath,
  };
  try {
    core.store.saveFile(file);
  } catch (err) {
    // No record, so no orphan bytes under data/: the bytes go back to the session for a retry.
    renameSync(core.store.abs(dataPath), session.path);
    session.hash = undefined; // digested above: a retry hashes the file again
    core.uploads.set(session.id, session);
    throw err;
  }
  core.finishedUploads.set(session.id, name);
  for (const id of core.finishedUploads.keys()) {
    if (core.finishedUploads.size <= MAX_FINISHED_UPLOADS) break;
    core.finishedUploads.delete(id);
  }
  return json({ file: fileToWire(file, ctx.origin, session.version) }, { 'x-goog-upload-status': 'final' });
}
