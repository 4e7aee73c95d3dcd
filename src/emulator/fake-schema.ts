// Builds a deterministic value that conforms to a JSON Schema (responseJsonSchema) or to the
// OpenAPI subset Gemini calls `responseSchema` (upper-case types, `nullable`).

import { rng } from '../util/random.js';

type Schema = Record<string, unknown>;

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const MAX_DEPTH = 8;

function pick<T>(items: readonly T[], next: () => number): T {
  return items[Math.floor(next() * items.length) % items.length] as T;
}

function typeOf(schema: Schema): string | undefined {
  const t = schema.type;
  if (Array.isArray(t)) {
    const first = t.find((x) => String(x).toLowerCase() !== 'null') ?? t[0];
    return first === undefined ? undefined : String(first).toLowerCase();
  }
  if (typeof t === 'string') return t.toLowerCase();
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return undefined;
}

function resolveRef(ref: string, root: Schema): Schema {
  const parts = ref.replace(/^#\/?/, '').split('/').filter(Boolean);
  let node: unknown = root;
  for (const part of parts)
    node = (node as Schema | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return (node as Schema | undefined) ?? {};
}

function fakeString(schema: Schema, next: () => number, words: string[]): string {
  switch (schema.format) {
    case 'date-time':
      return new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 3.15e10)).toISOString();
    case 'date':
      return new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 3.15e10)).toISOString().slice(0, 10);
    case 'email':
      return `${pick(WORDS, next)}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${pick(WORDS, next)}`;
    case 'uuid':
      return '00000000-0000-4000-8000-000000000000'.replace(/0/g, () => Math.floor(next() * 16).toString(16));
  }
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 80;
  const source = words.length > 0 ? words : WORDS;
  let text = '';
  const start = Math.floor(next() * source.length);
  for (let i = 0; text.length < Math.max(min, 12) && i < source.length * 4; i++) {
    text += (text ? ' ' : '') + source[(start + i) % source.length];
  }
  while (text.length < min) text += 'x';
  return text.slice(0, Math.max(max, min));
}

function fakeNumber(schema: Schema, next: () => number, integer: boolean): number {
  const eps = integer ? 1 : 1e-3;
  const exMin = num(schema.exclusiveMinimum);
  const exMax = num(schema.exclusiveMaximum);
  const lower = num(schema.minimum) ?? (exMin !== undefined ? exMin + eps : 0);
  const upper = Math.max(lower, num(schema.maximum) ?? (exMax !== undefined ? exMax - eps : lower + 100));
  const value = lower + next() * (upper - lower);
  return integer ? Math.min(Math.ceil(value), Math.floor(upper)) : Math.round(value * 1000) / 1000;
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/**
 * A value conforming to `schema`, chosen from `seed`. `words` (e.g. from the prompt) feed free-text
 * strings so an answer visibly belongs to its request.
 */
export function fakeFromSchema(schema: unknown, seed: number, words: string[] = []): unknown {
  const root = (schema ?? {}) as Schema;
  const next = rng(seed);
  const build = (node: Schema, depth: number): unknown => {
    if (typeof node.$ref === 'string') return build(resolveRef(node.$ref, root), depth + 1);
    if ('const' in node) return node.const;
    if (Array.isArray(node.enum) && node.enum.length > 0) return pick(node.enum, next);
    for (const key of ['anyOf', 'oneOf'] as const) {
      const options = node[key];
      if (Array.isArray(options) && options.length > 0) {
        const usable = (options as Schema[]).filter((o) => typeOf(o) !== 'null');
        return build(usable[0] ?? (options[0] as Schema), depth + 1);
      }
    }
    if (Array.isArray(node.allOf) && node.allOf.length > 0) {
      return build(Object.assign({}, ...(node.allOf as Schema[])), depth + 1);
    }
    switch (typeOf(node)) {
      case 'object': {
        const out: Record<string, unknown> = {};
        const props = (node.properties ?? {}) as Record<string, Schema>;
        const required = new Set(Array.isArray(node.required) ? (node.required as string[]) : []);
        for (const [name, child] of Object.entries(props)) {
          if (depth >= MAX_DEPTH && !required.has(name)) continue;
          out[name] = build(child, depth + 1);
        }
        return out;
      }
      case 'array': {
        const minItems = num(node.minItems) ?? 1;
        const maxItems = num(node.maxItems) ?? Math.max(minItems, 2);
        const count =
          depth >= MAX_DEPTH ? minItems : Math.min(maxItems, Math.max(minItems, 1 + Math.floor(next() * 2)));
        const prefix = Array.isArray(node.prefixItems) ? (node.prefixItems as Schema[]) : [];
        const items = (node.items ?? {}) as Schema;
        return Array.from({ length: Math.max(count, prefix.length) }, (_, i) =>
          build(prefix[i] ?? items, depth + 1),
        );
      }
      case 'string':
        return fakeString(node, next, words);
      case 'integer':
        return fakeNumber(node, next, true);
      case 'number':
        return fakeNumber(node, next, false);
      case 'boolean':
        return next() < 0.5;
      case 'null':
        return null;
      default:
        return fakeString(node, next, words);
    }
  };
  return build(root, 0);
}
