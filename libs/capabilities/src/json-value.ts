import { escapePointerSegment } from './schema-issue.js';

/**
 * Helpers for the plain JSON values that capability schemas are made of. Schemas travel between
 * processes as JSON text (`input_schema_json` in the proto), so anything JSON cannot carry (a
 * function, `undefined`, `NaN`, a cycle) would make the local and remote views of a capability
 * differ; these helpers let the definition check refuse such values up front.
 */

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns the JSON pointer of the first value JSON cannot carry, with the reason, or `undefined`
 * when the whole value is plain JSON.
 */
export function findNonJson(value: unknown, path = '', seen: Set<object> = new Set()): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path || '/'} is ${value}, which JSON cannot carry`;
    case 'object': {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path || '/'} refers back to itself`;
      if (!Array.isArray(value) && !isPlainObject(value)) return `${path || '/'} is not a plain object`;
      seen.add(value);
      const entries: [string, unknown][] = Array.isArray(value)
        ? value.map((item, index) => [String(index), item])
        : Object.entries(value);
      for (const [key, item] of entries) {
        const found = findNonJson(item, `${path}/${escapePointerSegment(key)}`, seen);
        if (found !== undefined) return found;
      }
      seen.delete(value);
      return undefined;
    }
    default:
      return `${path || '/'} is a ${typeof value}, which JSON cannot carry`;
  }
}

/**
 * JSON text with object keys sorted at every level, so that two schemas that differ only in key
 * order get the same text. Used as the compiled-schema cache key.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The JSON pointer of the first place where `a` and `b` differ (`''` for the roots), or
 * `undefined` when they are deep-equal. Object key order does not count; array order does.
 */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (a === b) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
      const found =
        index < a.length && index < b.length
          ? firstDifference(a[index], b[index], `${path}/${index}`)
          : `${path}/${index}`;
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const child = `${path}/${escapePointerSegment(key)}`;
      if (!Object.hasOwn(a, key) || !Object.hasOwn(b, key)) return child;
      const found = firstDifference(a[key], b[key], child);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return path;
}

/** Deep-copies plain JSON and freezes every level, so a definition cannot change after checks. */
export function frozenJsonCopy<T>(value: T): T {
  if (Array.isArray(value)) return Object.freeze(value.map(frozenJsonCopy)) as T;
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty rather than assignment: a `__proto__` key from JSON.parse stays a plain key.
      Object.defineProperty(copy, key, { value: frozenJsonCopy(item), enumerable: true });
    }
    return Object.freeze(copy) as T;
  }
  return value;
}
