// The thin stream wrapper around each stage's async generator: objects written in feed the
// generator's source, what it yields is read out, with backpressure both ways. Unlike
// `Duplex.from`, destroying the stream aborts the generator's signal at once (Node 20's
// Duplex.from waits for the generator's current await to settle first, which for a poller can be
// minutes) and waits for the generator's cleanup (`finally` blocks) before it closes.

import { Duplex } from 'node:stream';

const BUFFER = 16;

export type StageBody<I, O> = (source: AsyncIterable<I>, signal: AbortSignal) => AsyncIterable<O>;

/** A stage over batches: what was written since the last pull comes as one array, and each array
 * it yields is pushed out object by object. One promise per batch instead of per object. */
export type BatchedBody<I, O> = (source: AsyncIterable<I[]>, signal: AbortSignal) => AsyncIterable<O[]>;

/** Batches → their items, one by one. */
export async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch;
}

/** Items → one-item batches. */
export async function* singles<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}

export interface DuplexOptions {
  /** A user's signal: its abort destroys the stream with the abort's reason at once, even while the
   *  generator waits for input (a slow source) rather than on a call that watches the signal. */
  signal?: AbortSignal | undefined;
}

/** The same wrapper for a generator over single objects. */
export function generatorDuplex<I, O>(body: StageBody<I, O>, options: DuplexOptions = {}): Duplex {
  return batchedDuplex<I, O>((batches, signal) => singles(body(flatten(batches), signal)), options);
}

export function batchedDuplex<I, O>(body: BatchedBody<I, O>, options: DuplexOptions = {}): Duplex {
  const controller = new AbortController();
  // Written objects wait here (a batch from `writev`, or one from `write`) until the generator takes them.
  let queued: { chunks: I[]; callback: (err?: Error | null) => void } | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  async function* source(): AsyncGenerator<I[]> {
    for (;;) {
      if (queued) {
        const { chunks, callback } = queued;
        queued = undefined;
        // The writer may send the next batch once this one is taken.
        process.nextTick(callback);
        yield chunks;
        continue;
      }
      if (ended) return;
      controller.signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }

  let iterator: AsyncIterator<O[]> | undefined;
  let pulling = false;
  let inNext = false;
  let finished: Promise<void> | undefined;
  let settle: (() => void) | undefined;

  const duplex = new Duplex({
    objectMode: true,
    // A little buffer each way lets objects move in batches (one promise and one tick per batch,
    // not per object); memory stays bounded by it.
    readableHighWaterMark: BUFFER,
    writableHighWaterMark: BUFFER,
    write(chunk: I, _encoding, callback) {
      queued = { chunks: [chunk], callback };
      wakeUp();
    },
    writev(items: Array<{ chunk: I }>, callback) {
      queued = { chunks: items.map((i) => i.chunk), callback };
      wakeUp();
    },
    final(callback) {
      ended = true;
      wakeUp();
      callback();
    },
    read() {
      if (pulling) return;
      pulling = true;
      void pump();
    },
    destroy(err, callback) {
      controller.abort(err ?? new Error('The stream was destroyed.'));
      wakeUp();
      if (queued) {
        queued.callback(err ?? undefined);
        queued = undefined;
      }
      // A generator waiting at a `yield` only runs its cleanup when asked to return.
      if (iterator && !inNext) closeIterator();
      (finished ?? Promise.resolve()).then(() => callback(err));
    },
  });

  function closeIterator(): void {
    Promise.resolve(iterator?.return?.(undefined))
      .catch(() => undefined)
      .finally(() => settle?.());
  }

  async function pump(): Promise<void> {
    if (!iterator) {
      iterator = body(source(), controller.signal)[Symbol.asyncIterator]();
      finished = new Promise<void>((resolve) => {
        settle = resolve;
      });
    }
    try {
      for (;;) {
        inNext = true;
        const next = await iterator.next();
        inNext = false;
        if (duplex.destroyed) {
          if (next.done) settle?.();
          else closeIterator();
          return;
        }
        if (next.done) {
          settle?.();
          duplex.push(null);
          return;
        }
        let more = true;
        for (const value of next.value) more = duplex.push(value);
        if (!more) {
          pulling = false;
          return;
        }
      }
    } catch (err) {
      inNext = false;
      settle?.();
      if (!duplex.destroyed) duplex.destroy(err as Error);
    }
  }

  const external = options.signal;
  if (external) {
    const onAbort = () => {
      if (!duplex.destroyed) duplex.destroy(external.reason as Error);
    };
    if (external.aborted) process.nextTick(onAbort);
    else {
      external.addEventListener('abort', onAbort, { once: true });
      duplex.once('close', () => external.removeEventListener('abort', onAbort));
    }
  }

  return duplex;
}
