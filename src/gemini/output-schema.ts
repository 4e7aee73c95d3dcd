// Structured output: an `outputSchema` (zod) becomes the JSON Schema sent as `responseJsonSchema`,
// and is added to each request that does not choose its own. Batch and online send the same bytes.

import { z } from 'zod';
import { GbsError } from '../errors.js';
import type { RestRequest } from '../types.js';

/**
 * The JSON Schema sent as `responseJsonSchema` for an `outputSchema`: zod's "output" view (objects
 * closed with `additionalProperties: false`), or, for a schema with transforms (which that view
 * cannot show), its "input" view: what the model writes is what `safeParse` takes in.
 */
export function outputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  let json: Record<string, unknown>;
  try {
    json = z.toJSONSchema(schema) as Record<string, unknown>;
  } catch {
    try {
      json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
    } catch (err) {
      throw new GbsError(
        'GBS_INVALID_OPTION',
        `outputSchema cannot be sent as a JSON Schema: ${(err as Error).message}`,
        { option: 'outputSchema', cause: err },
      );
    }
  }
  const { $schema: _drop, ...rest } = json;
  return rest;
}

/**
 * Asks `request` for JSON matching `schema`, unless it chose its own schema (`responseJsonSchema`
 * or `responseSchema`): then, or without a schema, it is returned as it is (the same object).
 */
export function withJsonSchema(
  request: RestRequest,
  schema: Record<string, unknown> | undefined,
): RestRequest {
  if (!schema) return request;
  const config = (request.generationConfig ?? {}) as Record<string, unknown>;
  if (config.responseJsonSchema !== undefined || config.responseSchema !== undefined) return request;
  return {
    ...request,
    generationConfig: { ...config, responseMimeType: 'application/json', responseJsonSchema: schema },
  };
}
