// The emulator's HTTP front: routing under /v1beta, /v1 and /v1alpha, API-key checks, error
// bodies in the real shape, a request log that never contains the key.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { cancelBatch, createBatch, deleteBatch, getBatch, listBatches } from './batches.js';
import type { Core, RouteContext } from './context.js';
import { deleteFile, downloadFile, getFile, listFiles, uploadChunk, uploadStart } from './files.js';
import { type Reply, writeError } from './http.js';
import { countTokens, embedContent, generateContent } from './models.js';
import { RpcError } from './rpc.js';

/** Every route the emulator serves, by a stable id (fault rules and stats use these ids). */
export type RouteId =
  | 'upload.start'
  | 'upload.chunk'
  | 'files.get'
  | 'files.list'
  | 'files.delete'
  | 'files.download'
  | 'batches.create'
  | 'batches.createEmbeddings'
  | 'batches.get'
  | 'batches.list'
  | 'batches.cancel'
  | 'batches.delete'
  | 'models.generateContent'
  | 'models.countTokens'
  | 'models.embedContent'
  | 'emulator.stats';

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
  /** Called for every routed call before the handler; may answer instead of it. */
  before?(route: RouteId, ctx: RouteContext): Promise<'handled' | undefined>;
  /** Called with the handler's reply before it is written; may write or drop instead. */
  after?(route: RouteId, ctx: RouteContext, reply: Reply): Promise<'handled' | undefined>;
  onCall(route: RouteId, status: number): void;
  log?(line: string): void;
}

function match(method: string, url: URL): { route: Route; version: string; params: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    if (route.uploadId !== undefined && url.searchParams.has('upload_id') !== route.uploadId) continue;
    const m = route.pattern.exec(url.pathname);
    if (m)
      return { route, version: m[1] as string, params: m.slice(2).map((p) => decodeURIComponent(p ?? '')) };
  }
  return undefined;
}

export async function writeReply(res: ServerResponse, reply: Reply): Promise<void> {
  const status = reply.status ?? 200;
  if (reply.kind === 'json') {
    const body = JSON.stringify(reply.body);
    res.writeHead(status, {
      ...reply.headers,
      'content-type': 'application/json; charset=UTF-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } else if (reply.kind === 'empty') {
    res.writeHead(status, { ...reply.headers, 'content-length': 0 });
    res.end();
  } else {
    res.writeHead(status, reply.headers);
    await pipeline(reply.open(), res);
  }
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
    const url = new URL(req.url ?? '/', origin);
    let routeId: RouteId | undefined;
    res.on('finish', () => {
      if (routeId) hooks.onCall(routeId, res.statusCode);
      hooks.log?.(`${req.method} ${redact(url)} ${res.statusCode} ${Date.now() - started}ms`);
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
      const header = req.headers['x-goog-api-key'];
      const denied = hooks.authorize(
        (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('key') ?? undefined,
      );
      if (denied) {
        req.resume();
        throw denied;
      }
      const ctx: RouteContext = { req, res, url, version: found.version, params: found.params, origin, core };
      if ((await hooks.before?.(found.route.id, ctx)) === 'handled') return;
      const reply = await found.route.handler(ctx);
      if ((await hooks.after?.(found.route.id, ctx, reply)) === 'handled') return;
      await writeReply(res, reply);
    } catch (err) {
      if (err instanceof RpcError) return writeError(res, err);
      if (res.headersSent || req.destroyed) {
        res.destroy();
        return;
      }
      writeError(res, new RpcError('INTERNAL', `Internal error in the emulator: ${(err as Error).message}`));
    }
  };
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
