// Regression: csvSink took its default columns from the first result only, so when the first row
// failed (an error record has no output) a structured output came out as one JSON `output` column,
// and as `output.<field>` columns when the same rows came in another order.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { csvSink } from '../../src/index.js';

const failed = {
  key: 'a',
  row: { id: 'a', review: 'x' },
  ok: false,
  error: { stage: 'request', code: 'GBS_BLOCKED', message: 'blocked' },
};
const answered = {
  key: 'b',
  row: { id: 'b', review: 'y' },
  ok: true,
  text: '{"sentiment":"positive","score":5}',
  output: { sentiment: 'positive', score: 5 },
};

async function csvOf(results: object[]): Promise<string> {
  let text = '';
  const out = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(results), csvSink(out));
  return text;
}

describe('csvSink default columns', () => {
  it('take the output fields from the first success, whatever comes first', async () => {
    const header =
      'key,id,review,ok,text,output.sentiment,output.score,error_stage,error_code,error_message,error_line';
    const first = await csvOf([failed, answered]);
    const second = await csvOf([answered, failed]);
    expect(first.split('\n')[0]).toBe(header);
    expect(second.split('\n')[0]).toBe(header);
    expect(first.split('\n')[2]).toBe('b,b,y,true,"{""sentiment"":""positive"",""score"":5}",positive,5,,,,');
  });
});
