import Papa from 'papaparse';
import { ConversionError } from '../conversion-error.js';
import type { Converted } from '../conversion.js';

/** Rows quoted by number in a warning about rows with too few or too many fields. */
const ROWS_NAMED = 5;

/**
 * CSV to JSON (papaparse): an array with one object per row, keyed by the header row, values as
 * strings. The delimiter is detected (comma, semicolon, tab, pipe); empty lines are skipped. A
 * row with more fields than the header keeps the extra ones under `__parsed_extra`.
 *
 * @throws ConversionError INVALID_INPUT for a quote left open or misplaced
 */
export function csvToJson(csv: string): Converted {
  const parsed = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: 'greedy' });
  const broken = parsed.errors.find((error) => error.type === 'Quotes');
  if (broken) {
    throw new ConversionError(
      'INVALID_INPUT',
      `content: is not valid CSV (${broken.message}, line ${lineAt(csv, broken.index)})`,
      { format: 'csv' },
    );
  }
  const warnings: string[] = [];
  const ragged = parsed.errors.filter((error) => error.type === 'FieldMismatch');
  if (ragged.length > 0) {
    const rows = ragged.slice(0, ROWS_NAMED).map((error) => (error.row ?? 0) + 1);
    warnings.push(
      `${ragged.length} rows have a field count other than the header's (data rows ${rows.join(', ')}${ragged.length > ROWS_NAMED ? ', ...' : ''})`,
    );
  }
  const renamed = parsed.meta.renamedHeaders;
  if (renamed && Object.keys(renamed).length > 0) {
    warnings.push(`repeated header names were renamed: ${Object.keys(renamed).join(', ')}`);
  }
  return { output: JSON.stringify(parsed.data), warnings };
}

/**
 * JSON to CSV (papaparse): an array of objects (the header is every key, in the order first
 * seen) or an array of arrays (rows as they are). Nested objects and arrays are written as JSON,
 * null as an empty field.
 *
 * @throws ConversionError INVALID_INPUT for text that is not JSON, or JSON of another shape
 */
export function jsonToCsv(json: string): Converted {
  let value: unknown;
  try {
    value = JSON.parse(json) as unknown;
  } catch (error) {
    throw new ConversionError('INVALID_INPUT', `content: is not valid JSON (${(error as Error).message})`, {
      format: 'json',
    });
  }
  if (!Array.isArray(value)) {
    throw new ConversionError(
      'INVALID_INPUT',
      `content: JSON to CSV takes an array of rows, objects or arrays (got ${kindOf(value)})`,
      { format: 'json' },
    );
  }
  const rows: unknown[] = value;
  if (rows.every(Array.isArray)) {
    return { output: Papa.unparse(rows.map((row) => (row as unknown[]).map(cell))) };
  }
  const odd = rows.findIndex((row) => kindOf(row) !== 'an object');
  if (odd !== -1) {
    throw new ConversionError(
      'INVALID_INPUT',
      `content: JSON to CSV takes rows that are all objects or all arrays (row ${odd} is ${kindOf(rows[odd])})`,
      { format: 'json' },
    );
  }
  const fields = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
  const data = rows.map((row) => fields.map((field) => cell((row as Record<string, unknown>)[field])));
  return { output: Papa.unparse({ fields, data }) };
}

/** The 1-based line of a character offset, counting line feeds before it. */
function lineAt(text: string, index: number | undefined): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < (index ?? 0); i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
