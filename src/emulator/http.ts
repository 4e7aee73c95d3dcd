// Small HTTP helpers for the emulator: bounded JSON bodies, replies (JSON in the Google shape) as
// they go on the wire.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { RpcError } from './rpc.js';

/** What a route handler answers; the server writes it (or a fault rewrites it first). */
export type Reply =
  | { kind: 'json'; status?: number; headers?: Record<string, string>; body: unknown }
  | { kind: 'empty'; status?: number; headers?: Record<string, string> }
  | { kind: 'stream'; status?: number; headers?: Record<string, string>; open: () => NodeJS.ReadableStream }
  /** Bytes as they are (a fault's unparsable body). */
  | { kind: 'raw'; status?: number; headers?: Record<string, string>; body: Buffer };

export const json = (body: unknown, headers?: Record<string, string>): Reply => ({
  kind: 'json',
  body,
  ...(headers ? { headers } : {}),
});

export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

/** A request header's (first) value. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The real API caps request payloads at 20 MiB (the inline batch limit). */
export const MAX_BODY_BYTES = 20 * 1024 * 1024;

/** Reads a JSON request body of at most `limit` bytes; an empty body reads as `{}`. */
export async function readJson(
  req: IncomingMessage,
  limit = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new RpcError('INVALID_ARGUMENT', `Request payload size exceeds the limit: ${limit} bytes.`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid JSON payload received. ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received. Expected an object.');
  }
  return value as Record<string, unknown>;
}

/** An error as a reply (so a fault can still rewrite it). */
export function errorReply(err: RpcError): Extract<Reply, { kind: 'json' }> {
  return { kind: 'json', status: err.http, headers: err.headers, body: err.toBody() };
}

/** A reply other than a stream as it goes on the wire: its status, its headers with the content-type
 *  of JSON and the content-length, and its body. Every answer, and every fault that cuts or spoils
 *  one, is written from this. */
export function encodeReply(reply: Exclude<Reply, { kind: 'stream' }>): {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
} {
  const body =
    reply.kind === 'json'
      ? Buffer.from(JSON.stringify(reply.body))
      : reply.kind === 'raw'
        ? reply.body
        : Buffer.alloc(0);
  return {
    status: reply.status ?? 200,
    headers: {
      ...reply.headers,
      ...(reply.kind === 'json' ? { 'content-type': JSON_CONTENT_TYPE } : {}),
      'content-length': body.length,
    },
    body,
  };
}

/** Writes a reply other than a stream, at once. */
function send(res: ServerResponse, reply: Exclude<Reply, { kind: 'stream' }>): void {
  const { status, headers, body } = encodeReply(reply);
  res.writeHead(status, headers);
  res.end(body);
}

export async function writeReply(res: ServerResponse, reply: Reply): Promise<void> {
  if (reply.kind !== 'stream') return send(res, reply);
  res.writeHead(reply.status ?? 200, reply.headers);
  await pipeline(reply.open(), res);
}

/** Answers with `err`; once headers went out, the connection is cut instead. */
export function writeError(res: ServerResponse, err: RpcError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, errorReply(err));
}

/** Drops the connection without an answer, as a dying proxy or a timeout would. */
export function dropConnection(req: IncomingMessage, res: ServerResponse): void {
  (req.socket ?? res.socket)?.destroy();
  res.destroy();
}
