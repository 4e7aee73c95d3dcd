// Shared by the HTTP fault tests: a JSONL line and its upload through the SDK, a call's error, the
// names the emulator lists, and per SDK variant an emulator with faults and a client on it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Emulator, FaultOptions } from '../../src/emulator/index.js';
import { type emulators, rawGet, type SDK_VARIANTS, type Sdk, type tempDirs } from '../helpers.js';

type Variant = (typeof SDK_VARIANTS)[number];

export const MODEL = 'gemini-2.5-flash';
export const LINE = '{"key":"a","request":{"contents":[{"parts":[{"text":"hello"}]}]}}\n';

/** Uploads `content` as a JSONL file through the SDK, from a temp dir of the calling test file. */
export function uploader(temp: ReturnType<typeof tempDirs>) {
  return async function upload(ai: Sdk, content = LINE): Promise<string> {
    const path = join(temp(), 'in.jsonl');
    writeFileSync(path, content);
    return (await ai.files.upload({ file: path, config: { mimeType: 'jsonl' } })).name ?? '';
  };
}

/** A call's error, or undefined when it succeeded. */
export async function failure(p: Promise<unknown>): Promise<any> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** The names of the batches or files the emulator lists. */
export async function listNames(emu: Emulator, what: 'batches' | 'files'): Promise<string[]> {
  const { body } = await rawGet(emu, `${what}?pageSize=100`);
  return ((what === 'batches' ? body.operations : body.files) ?? []).map((x: { name: string }) => x.name);
}

/** Starts an emulator with `faults` and a client of one SDK variant on it. */
export function sdkSetup(start: ReturnType<typeof emulators>, { make, apiVersion }: Variant) {
  return async function setup(faults: FaultOptions) {
    const emu = await start({ faults });
    return { emu, ai: make(emu.clientOptions(apiVersion)) };
  };
}
