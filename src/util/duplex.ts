// The thin stream wrapper around each stage's async generator: objects written in feed the
// generator's source, what it yields is read out, with backpressure both ways. Unlike
// `Duplex.from`, destroying the stream aborts the generator's signal at once (Node 20's
// Duplex.from waits for the generator's current await to settle first, which for a poller can be
// minutes) and waits for the generator's cleanup (`finally` blocks) before it closes.

import { Duplex } from 'node:stream';

const BUFFER = 64;

export type StageBody<I, O> = (source: AsyncIterable<I>, signal: AbortSignal) => AsyncIterable<O>;

export function generatorDuplex<I, O>(body: StageBody<I, O>): Duplex {
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

  async function* source(): AsyncGenerator<I> {
    for (;;) {
      if (queued) {
        const { chunks, callback } = queued;
        queued = undefined;
        // The writer may send the next batch once this one is taken.
        process.nextTick(callback);
        for (const chunk of chunks) yield chunk;
        continue;
      }
      if (ended) return;
      controller.signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }

  let iterator: AsyncIterator<O> | undefined;
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
        if (!duplex.push(next.value)) {
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

  return duplex;
}
