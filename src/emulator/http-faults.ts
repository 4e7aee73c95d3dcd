// Carries out the HTTP fault a call was given (faults.ts decides which): an error or a dropped
// connection instead of the handler, or its answer delayed, cut off, spoiled or missing a header.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouteContext } from './context.js';
import type { HttpFaultAction } from './fault-options.js';
import { faultError } from './faults.js';
import {
  dropConnection,
  encodeReply,
  errorReply,
  JSON_CONTENT_TYPE,
  type Reply,
  writeError,
  writeReply,
} from './http.js';
import type { RouteId } from './route-ids.js';
import { RpcError } from './rpc.js';

/** Reads up to `bytes` of the request body (then stops reading). */
function readSome(req: IncomingMessage, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= bytes) done();
    };
    if (bytes <= 0) return done();
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
  });
}

/** Waits until `data` is handed to the socket, then cuts the connection. */
function writeThenDrop(req: IncomingMessage, res: ServerResponse, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    res.write(data, () => {
      dropConnection(req, res);
      resolve();
    });
  });
}

/** Sends the headers and `bytes` (default half) of the body, then cuts the connection. */
async function writeTruncated(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  bytes: number | undefined,
): Promise<void> {
  if (reply.kind === 'empty') return dropConnection(req, res);
  if (reply.kind !== 'stream') {
    const { status, headers, body } = encodeReply(reply);
    res.writeHead(status, headers);
    res.flushHeaders();
    await writeThenDrop(
      req,
      res,
      body.subarray(0, Math.min(bytes ?? Math.floor(body.length / 2), body.length)),
    );
    return;
  }
  const size = Number(reply.headers?.['content-length'] ?? 0);
  let left = Math.min(bytes ?? Math.floor(size / 2), size);
  res.writeHead(reply.status ?? 200, reply.headers);
  res.flushHeaders();
  const source = reply.open() as NodeJS.ReadableStream & { destroy?: () => void };
  const parts: Buffer[] = [];
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (left <= 0) break;
      const part = chunk.subarray(0, left);
      left -= part.length;
      parts.push(part);
      if (parts.length >= 16 || left <= 0) {
        const data = Buffer.concat(parts.splice(0));
        if (!res.write(data)) await new Promise((resolve) => res.once('drain', resolve));
      }
    }
  } finally {
    source.destroy?.();
  }
  await writeThenDrop(req, res, Buffer.concat(parts));
}

/** Answers `200` with the first half of the body the call would have had: not parsable JSON. */
function spoil(reply: Exclude<Reply, { kind: 'stream' }>): Reply {
  const { body } = encodeReply(reply);
  const cut = body.length > 1 ? body.subarray(0, Math.ceil(body.length / 2)) : Buffer.from('{"');
  return {
    kind: 'raw',
    status: 200,
    headers: { ...reply.headers, 'content-type': JSON_CONTENT_TYPE },
    body: cut,
  };
}

function withoutHeader(reply: Reply, name: string): Reply {
  const headers = Object.fromEntries(
    Object.entries(reply.headers ?? {}).filter(([k]) => k.toLowerCase() !== name),
  );
  return { ...reply, headers };
}

/** Serves a call that has a fault: before, instead of, or after its handler. */
export async function serveWithFault(
  route: { id: RouteId; handler: (ctx: RouteContext) => Promise<Reply> },
  ctx: RouteContext,
  action: HttpFaultAction,
): Promise<void> {
  const { req, res } = ctx;
  if (action.type === 'error') {
    req.resume();
    return writeError(res, faultError(action));
  }
  if (action.type === 'drop') return dropConnection(req, res);
  if (action.type === 'truncate' && route.id === 'upload.chunk') {
    // The chunk breaks off mid-way: nothing of it is stored.
    const length = Number(req.headers['content-length'] ?? 0);
    await readSome(req, action.bytes ?? Math.floor(length / 2));
    return dropConnection(req, res);
  }
  let reply: Reply;
  try {
    reply = await route.handler(ctx);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    reply = errorReply(err);
  }
  switch (action.type) {
    case 'dropAfter':
      return dropConnection(req, res);
    case 'delay':
      await sleep(action.ms);
      break;
    case 'noUploadStatus':
      reply = withoutHeader(reply, 'x-goog-upload-status');
      break;
    case 'badJson':
      if (reply.kind !== 'stream') reply = spoil(reply);
      break;
    case 'truncate':
      return writeTruncated(req, res, reply, action.bytes);
  }
  if (res.destroyed) return;
  await writeReply(res, reply);
}
