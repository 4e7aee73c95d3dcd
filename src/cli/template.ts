// Prompt templates: `{{column}}` (or `{{ column }}`) placeholders filled from each row's columns.

import { UsageError } from './usage.js';

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export interface Template {
  text: string;
  /** The column names it uses, in order of first use. */
  columns: string[];
  render(row: Record<string, unknown>): string;
}

/** A column's value: a column named exactly so, else (NDJSON) a dotted path into nested objects. */
export function columnValue(row: Record<string, unknown>, name: string): { found: boolean; value?: unknown } {
  if (Object.hasOwn(row, name)) return { found: true, value: row[name] };
  if (!name.includes('.')) return { found: false };
  let current: unknown = row;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part))
      return { found: false };
    current = (current as Record<string, unknown>)[part];
  }
  return { found: true, value: current };
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Parses a template; `flag` names it in error messages. */
export function compileTemplate(source: string, flag: string): Template {
  const columns: string[] = [];
  for (const m of source.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (name === '') throw new UsageError(`${flag}: an empty placeholder {{}}`);
    if (!columns.includes(name)) columns.push(name);
  }
  return {
    text: source,
    columns,
    render(row) {
      return source.replace(PLACEHOLDER, (_, name: string) => {
        const { found, value } = columnValue(row, name);
        if (!found) throw new Error(`the row has no column "${name}" (used by ${flag})`);
        return text(value);
      });
    },
  };
}

/** Stops (exit 2) when a placeholder or --key names a column the input does not have. */
export function checkColumns(
  uses: Array<{ flag: string; column: string }>,
  known: (column: string) => boolean,
  where: string,
  available: string[],
): void {
  const missing = uses.filter((u) => !known(u.column));
  if (missing.length === 0) return;
  const list = missing.map((m) => `"${m.column}" (${m.flag})`).join(', ');
  throw new UsageError(
    `${where} has no column ${list}; its columns are: ${available.join(', ') || '(none)'}. Nothing was sent.`,
  );
}
