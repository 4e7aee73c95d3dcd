// The emulator's HTTP front: routing under /v1beta, /v1 and /v1alpha, API-key checks, error
// bodies in the real shape, a request log that never contains the key.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { cancelBatch, createBatch, deleteBatch, getBatch, listBatches } from './batches.js';
import type { Core, RouteContext } from './context.js';
import type { HttpFaultAction } from './fault-options.js';
import { deleteFile, downloadFile, getFile, listFiles } from './files.js';
import { header, type Reply, writeError, writeReply } from './http.js';
import { serveWithFault } from './http-faults.js';
import { countTokens, embedContent, generateContent } from './models.js';
import type { RouteId } from './route-ids.js';
import { RpcError } from './rpc.js';
import { uploadChunk, uploadStart } from './uploads.js';

interface Route {
  id: RouteId;
  method: string;
  pattern: RegExp;
  /** Whether the query must (true) or must not (false) carry `upload_id`. */
  uploadId?: boolean;
  handler: (ctx: RouteContext) => Promise<Reply>;
}

const V = '(v1beta|v1|v1alpha)';
const MODEL = '(models|tunedModels)/([^/:]+)';

const ROUTES: Route[] = [
  {
    id: 'upload.start',
    method: 'POST',
    pattern: new RegExp(`^/upload/${V}/files$`),
    uploadId: false,
    handler: uploadStart,
  },
  {
    id: 'upload.chunk',
    method: 'POST',
    pattern: new RegExp(`^/upload/${V}/files$`),
    uploadId: true,
    handler: uploadChunk,
  },
  {
    id: 'upload.chunk',
    method: 'PUT',
    pattern: new RegExp(`^/upload/${V}/files$`),
    uploadId: true,
    handler: uploadChunk,
  },
  { id: 'files.list', method: 'GET', pattern: new RegExp(`^/${V}/files$`), handler: listFiles },
  {
    id: 'files.download',
    method: 'GET',
    pattern: new RegExp(`^(?:/download)?/${V}/files/([^/:]+):download$`),
    handler: downloadFile,
  },
  { id: 'files.get', method: 'GET', pattern: new RegExp(`^/${V}/files/([^/:]+)$`), handler: getFile },
  {
    id: 'files.delete',
    method: 'DELETE',
    pattern: new RegExp(`^/${V}/files/([^/:]+)$`),
    handler: deleteFile,
  },
  {
    id: 'batches.create',
    method: 'POST',
    pattern: new RegExp(`^/${V}/${MODEL}:batchGenerateContent$`),
    handler: (ctx) => createBatch(ctx, 'generate'),
  },
  {
    id: 'batches.createEmbeddings',
    method: 'POST',
    pattern: new RegExp(`^/${V}/${MODEL}:asyncBatchEmbedContent$`),
    handler: (ctx) => createBatch(ctx, 'embed'),
  },
  {
    id: 'models.generateContent',
    method: 'POST',
    pattern: new RegExp(`^/${V}/${MODEL}:generateContent$`),
    handler: generateContent,
  },
  {
    id: 'models.countTokens',
    method: 'POST',
    pattern: new RegExp(`^/${V}/${MODEL}:countTokens$`),
    handler: countTokens,
  },
  {
    id: 'models.embedContent',
    method: 'POST',
    pattern: new RegExp(`^/${V}/${MODEL}:embedContent$`),
    handler: embedContent,
  },
  { id: 'batches.list', method: 'GET', pattern: new RegExp(`^/${V}/batches$`), handler: listBatches },
  {
    id: 'batches.cancel',
    method: 'POST',
    pattern: new RegExp(`^/${V}/batches/([^/:]+):cancel$`),
    handler: cancelBatch,
  },
  { id: 'batches.get', method: 'GET', pattern: new RegExp(`^/${V}/batches/([^/:]+)$`), handler: getBatch },
  {
    id: 'batches.delete',
    method: 'DELETE',
    pattern: new RegExp(`^/${V}/batches/([^/:]+)$`),
    handler: deleteBatch,
  },
];

export interface ServerHooks {
  /** Checks the API key; returns an error to answer with, or undefined to go on. */
  authorize(key: string | undefined): RpcError | undefined;
  /** Admin routes under `/_emulator/` (no API key needed). */
  admin(ctx: { req: IncomingMessage; url: URL; path: string }): Promise<Reply | undefined>;
  /** Called for every routed, authorized call before the handler: the fault it gets, if any. */
  fault?(route: RouteId): HttpFaultAction | undefined;
  /** Every routed call once it ends: its HTTP status, or `dropped` when no full answer went out. */
  onCall(route: RouteId, status: number | 'dropped'): void;
  log?(line: string): void;
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid percent-encoding in the URL path: ${JSON.stringify(part)}.`,
    );
  }
}

function match(method: string, url: URL): { route: Route; version: string; params: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    if (route.uploadId !== undefined && url.searchParams.has('upload_id') !== route.uploadId) continue;
    const m = route.pattern.exec(url.pathname);
    if (m) return { route, version: m[1] as string, params: m.slice(2).map((p) => decodePathPart(p ?? '')) };
  }
  return undefined;
}

function redact(url: URL): string {
  const copy = new URL(url);
  if (copy.searchParams.has('key')) copy.searchParams.set('key', 'REDACTED');
  return copy.pathname + copy.search;
}

export function createEmulatorServer(core: Core, hooks: ServerHooks): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const origin = `http://${req.headers.host ?? 'localhost'}`;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', origin);
    } catch {
      // A Host header or request target that makes no URL: answered, never a crash of the process.
      req.resume();
      hooks.log?.(`${req.method} (an invalid URL or Host header) 400`);
      return writeError(res, new RpcError('INVALID_ARGUMENT', 'Invalid request URL or Host header.'));
    }
    let routeId: RouteId | undefined;
    let fault: HttpFaultAction | undefined;
    const ended = (status: number | 'dropped') => {
      if (routeId) hooks.onCall(routeId, status);
      const note = fault ? ` (fault: ${fault.type})` : '';
      hooks.log?.(`${req.method} ${redact(url)} ${status} ${Date.now() - started}ms${note}`);
    };
    res.on('finish', () => ended(res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) ended('dropped');
    });
    try {
      if (url.pathname.startsWith('/_emulator/')) {
        const reply = await hooks.admin({ req, url, path: url.pathname.slice('/_emulator/'.length) });
        if (!reply) throw new RpcError('NOT_FOUND', `No emulator admin route ${url.pathname}.`);
        return await writeReply(res, reply);
      }
      const found = match(req.method ?? 'GET', url);
      if (!found) {
        req.resume();
        throw new RpcError('NOT_FOUND', `The emulator serves no ${req.method} ${url.pathname}.`);
      }
      routeId = found.route.id;
      const denied = hooks.authorize(
        header(req, 'x-goog-api-key') ?? url.searchParams.get('key') ?? undefined,
      );
      if (denied) {
        req.resume();
        throw denied;
      }
      const ctx: RouteContext = { req, res, url, version: found.version, params: found.params, origin, core };
      fault = hooks.fault?.(found.route.id);
      if (fault) {
        ctx.fault = fault;
        return await serveWithFault(found.route, ctx, fault);
      }
      const reply = await found.route.handler(ctx);
      await writeReply(res, reply);
    } catch (err) {
      if (err instanceof RpcError) return writeError(res, err);
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      writeError(res, new RpcError('INTERNAL', `Internal error in the emulator: ${(err as Error).message}`));
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // handle() answers every error itself; whatever still escapes ends this call, not the process.
      res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
