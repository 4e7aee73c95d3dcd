// Structured output: an `outputSchema` (zod) becomes the JSON Schema sent as `responseJsonSchema`,
// and is added to each request that does not choose its own. Batch and online send the same bytes.

import { z } from 'zod';
import type { RestRequest } from '../types.js';

/** The JSON Schema sent as `responseJsonSchema` for an `outputSchema`. */
export function outputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema) as Record<string, unknown>;
  return json;
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
