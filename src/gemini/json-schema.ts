// The SDK's conversion of a JSON Schema given as `responseSchema` (or a function declaration's
// `parameters`) into the API's OpenAPI-style Schema, ported from @google/genai's processJsonSchema
// so batch requests carry exactly what `generateContent` would send.

type Json = Record<string, unknown>;

const TYPES = new Set([
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
]);

function apiType(name: string): string {
  const upper = name.toUpperCase();
  return TYPES.has(upper) ? upper : 'TYPE_UNSPECIFIED';
}

function flattenTypeArrayToAnyOf(types: string[], out: Json): void {
  if (types.includes('null')) out.nullable = true;
  const rest = types.filter((t) => t !== 'null');
  if (rest.length === 1) out.type = apiType(rest[0] as string);
  else out.anyOf = rest.map((t) => ({ type: apiType(t) }));
}

export function processJsonSchema(input: Json): Json {
  const out: Json = {};
  let schema = input;
  if (schema.type && schema.anyOf) throw new Error('type and anyOf cannot be both populated.');
  const anyOf = schema.anyOf as Json[] | undefined;
  if (anyOf != null && anyOf.length === 2) {
    if (anyOf[0]?.type === 'null') {
      out.nullable = true;
      schema = anyOf[1] as Json;
    } else if (anyOf[1]?.type === 'null') {
      out.nullable = true;
      schema = anyOf[0] as Json;
    }
  }
  if (Array.isArray(schema.type)) flattenTypeArrayToAnyOf(schema.type as string[], out);
  for (const [name, value] of Object.entries(schema)) {
    if (value == null) continue;
    if (name === 'type') {
      if (value === 'null') throw new Error('type: null can not be the only possible type for the field.');
      if (Array.isArray(value)) continue;
      out.type = apiType(String(value));
    } else if (name === 'items') {
      out.items = processJsonSchema(value as Json);
    } else if (name === 'anyOf') {
      const list: Json[] = [];
      for (const item of value as Json[]) {
        if (item.type === 'null') {
          out.nullable = true;
          continue;
        }
        list.push(processJsonSchema(item));
      }
      out.anyOf = list;
    } else if (name === 'properties') {
      const props: Json = {};
      for (const [k, v] of Object.entries(value as Json)) props[k] = processJsonSchema(v as Json);
      out.properties = props;
    } else if (name !== 'additionalProperties') {
      out[name] = value;
    }
  }
  return out;
}
