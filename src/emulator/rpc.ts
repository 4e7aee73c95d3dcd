// Google API error shapes: `{ "error": { code, message, status, details? } }` on HTTP, and the
// bare google.rpc.Status (`{ code, message }`, gRPC numbering) inside operations and result lines.

/** Canonical status names with their HTTP and gRPC codes (google.rpc.Code). */
export const CANONICAL = {
  CANCELLED: { http: 499, grpc: 1 },
  UNKNOWN: { http: 500, grpc: 2 },
  INVALID_ARGUMENT: { http: 400, grpc: 3 },
  DEADLINE_EXCEEDED: { http: 504, grpc: 4 },
  NOT_FOUND: { http: 404, grpc: 5 },
  ALREADY_EXISTS: { http: 409, grpc: 6 },
  PERMISSION_DENIED: { http: 403, grpc: 7 },
  RESOURCE_EXHAUSTED: { http: 429, grpc: 8 },
  FAILED_PRECONDITION: { http: 400, grpc: 9 },
  ABORTED: { http: 409, grpc: 10 },
  OUT_OF_RANGE: { http: 400, grpc: 11 },
  UNIMPLEMENTED: { http: 501, grpc: 12 },
  INTERNAL: { http: 500, grpc: 13 },
  UNAVAILABLE: { http: 503, grpc: 14 },
  UNAUTHENTICATED: { http: 401, grpc: 16 },
} as const;

export type CanonicalStatus = keyof typeof CANONICAL;

const BY_HTTP: Record<number, CanonicalStatus> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The canonical status the real front end pairs with an HTTP code. */
export function statusForHttp(http: number): CanonicalStatus {
  return BY_HTTP[http] ?? (http >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/** An error the emulator answers with, in the real API's JSON shape. */
export class RpcError extends Error {
  readonly http: number;
  readonly status: CanonicalStatus;
  readonly details: unknown[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: CanonicalStatus,
    message: string,
    opts: { http?: number; details?: unknown[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.http = opts.http ?? CANONICAL[status].http;
    this.details = opts.details;
    this.headers = opts.headers ?? {};
  }

  toBody(): { error: { code: number; message: string; status: string; details?: unknown[] } } {
    return {
      error: {
        code: this.http,
        message: this.message,
        status: this.status,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

/** A google.rpc.Status as it appears inside operations and result lines (gRPC numbering). */
export interface RpcStatus {
  code: number;
  message: string;
  details?: unknown[];
}

export function rpcStatus(status: CanonicalStatus, message: string): RpcStatus {
  return { code: CANONICAL[status].grpc, message };
}

export const invalidArgument = (message: string) => new RpcError('INVALID_ARGUMENT', message);
export const notFound = (message: string) => new RpcError('NOT_FOUND', message);
