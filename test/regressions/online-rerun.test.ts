// Regressions in geminiOnline's reruns (found by an audit): a rerun right after a run that broke off
// was refused GBS_STATE_LOCKED; a row that became an error item on a rerun made every answered row
// after it be sent (and paid) again; a hand-made item with an empty key went through unchecked.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { GbsError, geminiOnline, toRequests } from '../../src/index.js';
import { emulators, tempDirs } from '../helpers.js';
import { rowsOf, runOnline } from '../pipeline/harness.js';

const start = emulators();
const temp = tempDirs();

const calls = (emu: Emulator) => emu.stats().calls['models.generateContent']?.[200] ?? 0;

describe('geminiOnline reruns', () => {
  it('a rerun right after a run whose sink failed waits for it to let go, instead of GBS_STATE_LOCKED', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(20);
    let written = 0;
    const failing = new Writable({
      objectMode: true,
      write(_r, _e, cb) {
        cb(++written === 5 ? new Error('sink broke') : null);
      },
    });
    await expect(
      pipeline(
        Readable.from(rows),
        toRequests((row: { id: string; text: string }) => row.text, { key: (row) => row.id }),
        geminiOnline({ client: new GoogleGenAI(emu.clientOptions()), model: 'm', stateDir }),
        failing,
      ),
    ).rejects.toThrow('sink broke');
    // At once: the failed run's stage may still be closing.
    const again = await runOnline(emu, rows, { model: 'm', stateDir });
    expect(again.results.map((r) => r.key)).toEqual(rows.map((r) => r.id));
    expect(again.results.every((r) => r.ok)).toBe(true);
  });

  it('a row that fails before its request on a rerun does not make the rows after it be sent again', async () => {
    const emu = await start();
    const stateDir = temp();
    const rows = rowsOf(20);
    await runOnline(emu, rows, { model: 'm', stateDir });
    expect(calls(emu)).toBe(20);
    // Row 3's prompt is now empty: an error record (build), no request.
    const changed = rows.map((r, i) => (i === 3 ? { ...r, text: '' } : r));
    const again = await runOnline(emu, changed, { model: 'm', stateDir });
    expect(calls(emu)).toBe(20);
    expect(again.results.map((r) => [r.key, r.ok])).toEqual(changed.map((r, i) => [r.id, i !== 3]));
    // And a third run, with row 3 back, sends only row 3.
    await runOnline(emu, rows, { model: 'm', stateDir });
    expect(calls(emu)).toBe(21);
  });

  it('refuses an item with an empty key (GBS_EMPTY_KEY), as the batch stage does', async () => {
    const emu = await start();
    const err = await pipeline(
      Readable.from([{ key: '', row: {}, request: { contents: [{ parts: [{ text: 'hi' }] }] } }]),
      geminiOnline({ client: new GoogleGenAI(emu.clientOptions()), model: 'm' }),
      new Writable({ objectMode: true, write: (_r, _e, cb) => cb() }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GbsError);
    expect((err as GbsError).code).toBe('GBS_EMPTY_KEY');
    expect(calls(emu)).toBe(0);
  });

  it('a second run waiting for the first to let go stops at once when its signal fires', async () => {
    const emu = await start({
      faults: { http: [{ route: 'models.generateContent', action: { type: 'delay', ms: 20_000 } }] },
    });
    const stateDir = temp();
    const first = new AbortController();
    const holding = runOnline(emu, rowsOf(2), { model: 'm', stateDir, signal: first.signal }).catch(
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 200)); // the first run holds the lock now
    const err = await runOnline(emu, rowsOf(2), {
      model: 'm',
      stateDir,
      signal: AbortSignal.timeout(300),
    }).catch((e: unknown) => e);
    // Not the 30 s wait for the first run: the abort's own reason, at once.
    expect((err as Error).name).toBe('TimeoutError');
    first.abort(new Error('done'));
    expect(((await holding) as Error).message).toBe('done');
  });
});
