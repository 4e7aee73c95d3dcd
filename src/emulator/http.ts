// Small HTTP helpers for the emulator: bounded JSON bodies, JSON replies in the Google shape.

import type { IncomingMessage, ServerResponse } from 'node:http';
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
export function errorReply(err: RpcError): Reply {
  return { kind: 'json', status: err.http, headers: err.headers, body: err.toBody() };
}

export function writeError(res: ServerResponse, err: RpcError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toBody());
  res.writeHead(err.http, {
    ...err.headers,
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Drops the connection without an answer, as a dying proxy or a timeout would. */
export function dropConnection(req: IncomingMessage, res: ServerResponse): void {
  (req.socket ?? res.socket)?.destroy();
  res.destroy();
}
