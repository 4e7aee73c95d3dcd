// makeItemBuilder, the request side: what each spec becomes, sync or async, the source line on the
// item, and a builder that throws or returns junk (or a read-error row) → one error item, never a throw.

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RequestSpec } from '../../src/gemini/request.js';
import { ndjsonSource } from '../../src/sources/ndjson.js';
import { makeItemBuilder, type RequestBuilder } from '../../src/stages/to-requests.js';
import type { Row } from '../../src/types.js';
import { at, user } from './helpers.js';

describe('makeItemBuilder', () => {
  it.each<[string, RequestSpec, Record<string, unknown>]>([
    ['a string prompt', 'Classify: great', user('Classify: great')],
    [
      '{ contents, config }',
      { contents: 'Classify: great', config: { temperature: 0, systemInstruction: 'Be terse.' } },
      {
        ...user('Classify: great'),
        systemInstruction: { role: 'user', parts: [{ text: 'Be terse.' }] },
        generationConfig: { temperature: 0 },
      },
    ],
    [
      'Contents with a model turn',
      {
        contents: [
          { role: 'user', parts: [{ text: 'a' }] },
          { role: 'model', parts: [{ text: 'b' }] },
        ],
      },
      {
        contents: [
          { role: 'user', parts: [{ text: 'a' }] },
          { role: 'model', parts: [{ text: 'b' }] },
        ],
      },
    ],
    [
      'a config with only lifted fields',
      { contents: 'x', config: { cachedContent: 'abc' } },
      { ...user('x'), cachedContent: 'cachedContents/abc', generationConfig: {} },
    ],
  ])('builds %s', async (_name, spec, request) => {
    const row = { id: 'r1' };
    const item = await makeItemBuilder(() => spec)(row, 0);
    expect(item).toEqual({ key: '0', request, row });
    expect(item.row).toBe(row);
  });

  it('carries the source line on the item', async () => {
    const row = at(17, { id: 'a' });
    const item = await makeItemBuilder(() => 'x')(row, 0);
    expect(item).toEqual({ key: '0', request: user('x'), row, line: 17 });
  });

  it('leaves line out when the source does not know it', async () => {
    const item = await makeItemBuilder(() => 'x')({ id: 'a' }, 0);
    expect('line' in item).toBe(false);
  });

  it('an async builder resolves to an item', async () => {
    const row = { q: 'why' };
    const result = makeItemBuilder(async (r: { q: string }) => {
      await sleep(1);
      return { contents: r.q, config: { temperature: 0.3 } };
    })(row, 4);
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual({
      key: '4',
      request: { ...user('why'), generationConfig: { temperature: 0.3 } },
      row,
    });
  });

  it('a synchronous builder answers synchronously', () => {
    const result = makeItemBuilder(() => 'x')({}, 0);
    expect(result).not.toBeInstanceOf(Promise);
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'throws an Error',
      () => {
        throw new Error('column review missing');
      },
      /^the request builder threw: column review missing$/,
    ],
    [
      'throws a non-Error',
      () => {
        throw 404;
      },
      /^the request builder threw: 404$/,
    ],
    [
      'rejects (async)',
      async () => {
        throw new Error('lookup failed');
      },
      /^the request builder threw: lookup failed$/,
    ],
    ['returns a number', () => 42, /^the request is not valid: .*got number/],
    ['returns null', () => null, /^the request is not valid: .*got null/],
    ['returns undefined', () => undefined, /^the request is not valid: .*got undefined/],
    ['returns {}', () => ({}), /^the request is not valid: .*contents/],
    ['returns an empty string', () => '', /^the request is not valid: .*empty/],
    ['resolves to a number (async)', async () => 42, /^the request is not valid: .*got number/],
    ['returns a config with a typo', () => ({ contents: 'x', config: { temprature: 0.2 } }), /temprature/],
    [
      'returns a Vertex-only field',
      () => ({ contents: 'x', config: { routingConfig: { autoMode: {} } } }),
      /routingConfig/,
    ],
    [
      'mixes Content and parts',
      () => ({ contents: [{ role: 'user', parts: [{ text: 'a' }] }, 'b'] }),
      /Mixing Content and Parts/,
    ],
    [
      'returns a bare functionCall part',
      () => ({ contents: { functionCall: { name: 'f' } } }),
      /functionCall/,
    ],
  ])('a builder that %s → a build error', async (_name, build, message) => {
    const row = at(21, { id: 'k1' });
    const item = await makeItemBuilder(build as RequestBuilder<Row>, { key: (r) => r.id as string })(row, 0);
    expect(item).toEqual({
      key: 'k1',
      row,
      line: 21,
      error: { stage: 'build', code: 'GBS_BUILD_FAILED', line: 21, message: expect.stringMatching(message) },
    });
    expect(item.row).toBe(row);
  });

  it('a read-error row passes through as an error item with stage read', async () => {
    const [row] = await (async () => {
      const rows: any[] = [];
      for await (const r of ndjsonSource(Readable.from([Buffer.from('\n{oops\n')]))) rows.push(r);
      return rows;
    })();
    const build = () => {
      throw new Error('must not be called');
    };
    const item = await makeItemBuilder(build, { key: () => 'never' })(row, 0);
    expect(item).toEqual({
      key: '#0',
      row,
      line: 2,
      error: {
        stage: 'read',
        code: 'GBS_INPUT_PARSE',
        line: 2,
        message: expect.stringMatching(/invalid JSON/),
      },
    });
  });
});
