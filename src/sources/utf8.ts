// Telling a real U+FFFD in the input from invalid bytes decoded to U+FFFD. csv-parse decodes the
// bytes itself, so csvSource cannot look at a record's bytes: it watches the byte stream on its way
// into the parser, notes where each invalid sequence starts, and asks, for a record holding a
// U+FFFD, whether one starts within the record's bytes (csv-parse counts them: `info.bytes`).

import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';

/** The length of the UTF-8 sequence `lead` starts, or 0 if it cannot start one. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Whether `buf[i]` may follow the lead byte `lead` as the first continuation byte. */
function secondByteOk(lead: number, b: number): boolean {
  if (lead === 0xe0) return b >= 0xa0 && b <= 0xbf; // no overlong forms
  if (lead === 0xed) return b >= 0x80 && b <= 0x9f; // no surrogates
  if (lead === 0xf0) return b >= 0x90 && b <= 0xbf;
  if (lead === 0xf4) return b >= 0x80 && b <= 0x8f; // nothing past U+10FFFF
  return b >= 0x80 && b <= 0xbf;
}

/** Calls `found(at)` for the start of every invalid sequence in `buf` (whole sequences only). */
function findInvalid(buf: Buffer, base: number, found: (at: number) => void): void {
  for (let i = 0; i < buf.length; ) {
    const lead = buf[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(lead);
    let ok = n > 0 && i + n <= buf.length && secondByteOk(lead, buf[i + 1] as number);
    for (let k = 2; ok && k < n; k++) ok = ((buf[i + k] as number) & 0xc0) === 0x80;
    if (ok) i += n;
    else {
      found(base + i);
      i++;
    }
  }
}

/** How many bytes at the end of `buf` (after `from`) start a sequence the next chunk may finish. */
function unfinishedTail(buf: Buffer, from: number): number {
  for (let i = 1; i <= 3 && buf.length - i >= from; i++) {
    const b = buf[buf.length - i] as number;
    if (b >= 0x80 && b <= 0xbf) continue; // a continuation byte: look further back
    return sequenceLength(b) > i ? i : 0;
  }
  return 0;
}

/**
 * Passes bytes through unchanged, noting where invalid UTF-8 sequences start. Ask in input order:
 * what `invalidIn` has been asked past is forgotten, so memory is bounded by how far the stream
 * runs ahead of the parser.
 */
export class Utf8Watch extends Transform {
  /** Offsets in the input of invalid sequences not yet asked past (`offsets[head…]`, ascending). */
  private offsets: number[] = [];
  private head = 0;
  /** Text arrived instead of bytes: it was decoded before us, a U+FFFD in it may be anything. */
  private text = false;
  private position = 0;
  /** The start of a sequence cut by a chunk boundary, and its offset. */
  private carry: Buffer | undefined;
  private carryAt = 0;

  /** Whether an invalid sequence starts in the input's bytes [from, to). */
  invalidIn(from: number, to: number): boolean {
    if (this.text) return true;
    while (this.head < this.offsets.length && (this.offsets[this.head] as number) < from) this.head++;
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
    return this.head < this.offsets.length && (this.offsets[this.head] as number) < to;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    if (typeof chunk === 'string') this.text = true;
    else if (!this.text) this.check(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.carry) this.found(this.carryAt); // the input ends inside a sequence
    this.carry = undefined;
    done();
  }

  private readonly found = (at: number) => {
    this.offsets.push(at);
  };

  private check(chunk: Buffer): void {
    const base = this.position;
    this.position += chunk.length;
    let from = 0;
    if (this.carry) {
      const missing = sequenceLength(this.carry[0] as number) - this.carry.length;
      if (chunk.length < missing) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      // Its own bytes are checked again below when the cut sequence turns out invalid.
      if (isUtf8(Buffer.concat([this.carry, chunk.subarray(0, missing)]))) from = missing;
      else this.found(this.carryAt);
      this.carry = undefined;
    }
    const tail = unfinishedTail(chunk, from);
    const body = chunk.subarray(from, chunk.length - tail);
    if (!isUtf8(body)) findInvalid(body, base + from, this.found);
    if (tail > 0) {
      this.carry = Buffer.from(chunk.subarray(chunk.length - tail));
      this.carryAt = base + chunk.length - tail;
    }
  }
}
