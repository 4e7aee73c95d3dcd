// Per-call `fetch` wrappers handed to the SDK (`httpOptions.fetch`). They delegate to the real
// fetch and note what the SDK does not expose: Retry-After, the raw JSON body, a broken download.

import type { AttemptInfo } from './retry.js';

type Fetch = typeof fetch;

/**
 * A fetch for one SDK call that records the answer's Retry-After header and, with `capture`, the
 * raw JSON body of a successful answer (the REST shape, which the SDK reshapes or hides).
 */
export function observingFetch(info: AttemptInfo, capture?: (body: unknown) => void): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    info.retryAfter = res.headers.get('retry-after');
    if (capture && res.ok) {
      try {
        capture(JSON.parse(await res.clone().text()));
      } catch {
        // The SDK reads the same body and reports an unreadable or unparsable one itself (retried).
      }
    }
    return res;
  };
}

/**
 * A fetch for `files.download` whose body ends quietly instead of erroring when the connection
 * breaks: the SDK pipes the body to the file without error handling, so an error would hang the
 * call (or crash the process). We note the failure and report it after the SDK returns.
 */
export function downloadFetch(info: AttemptInfo, state: { error?: unknown; expected?: number }): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    info.retryAfter = res.headers.get('retry-after');
    if (!res.ok || !res.body) return res;
    const length = res.headers.get('content-length');
    if (length !== null) state.expected = Number(length);
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          state.error = err;
          controller.close();
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
