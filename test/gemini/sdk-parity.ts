// Shared by the toRestRequest parity tests: an emulator and SDK client per SDK variant, and the two
// checks: the SDK puts exactly toRestRequest's answer on the wire, or both refuse with one message.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { type RequestSpec, toRestRequest } from '../../src/gemini/request.js';
import type { emulators, SDK_VARIANTS, Sdk } from '../helpers.js';

type Variant = (typeof SDK_VARIANTS)[number];
type Client = { emu: Emulator; ai: Sdk };

/** The emulator and client of one SDK variant, started before the enclosing describe's tests. */
export function sdkOnEmulator(
  start: ReturnType<typeof emulators>,
  { make, apiVersion }: Variant,
): () => Client {
  let emu: Emulator;
  let ai: Sdk;
  beforeAll(async () => {
    emu = await start({ maxActiveBatches: 10_000 });
    ai = make(emu.clientOptions(apiVersion));
  });
  return () => ({ emu, ai });
}

/** What the SDK sends for `spec` as one inline batch request, read back from the emulator's record. */
async function sentBySdk(emu: Emulator, ai: Sdk, spec: RequestSpec): Promise<Record<string, unknown>> {
  const { contents, config, model } = typeof spec === 'string' ? { contents: spec } : (spec as any);
  const job = await ai.batches.create({
    model: 'gemini-2.5-flash',
    src: [
      {
        contents,
        ...(config !== undefined ? { config } : {}),
        ...(model !== undefined ? { model } : {}),
        metadata: { key: 'k' },
      },
    ],
  });
  const id = (job.name ?? '').replace(/^batches\//, '');
  const record = JSON.parse(readFileSync(join(emu.dir, 'meta/batches', `${id}.json`), 'utf8'));
  expect(record.inlineRequests).toHaveLength(1);
  expect(record.inlineRequests[0].metadata).toEqual({ key: 'k' });
  return record.inlineRequests[0].request;
}

/** `spec` comes out of toRestRequest exactly as the SDK sends it. */
export async function matchesSdk({ emu, ai }: Client, spec: RequestSpec): Promise<void> {
  const wire = await sentBySdk(emu, ai, structuredClone(spec));
  expect(toRestRequest(structuredClone(spec))).toEqual(wire);
}

/** The SDK refuses `spec` by itself, and toRestRequest refuses it with the SDK's message. */
export async function refusedLikeSdk({ emu, ai }: Client, spec: unknown): Promise<void> {
  const sdkError = await sentBySdk(emu, ai, structuredClone(spec) as RequestSpec).then(
    () => undefined,
    (err: Error) => err,
  );
  expect(sdkError).toBeInstanceOf(Error);
  // A refusal by the SDK itself, before any HTTP call (an API error would carry a status).
  expect((sdkError as { status?: number }).status).toBeUndefined();
  expect(() => toRestRequest(structuredClone(spec) as RequestSpec)).toThrow(sdkError?.message);
}
