import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { canonicalJson } from './json-value.js';
import { STRING_LENGTH_KEYWORDS } from './string-length.js';

/**
 * A JSON Schema (draft-07, the dialect of ajv's default export): an object or a boolean schema.
 * Typed loosely on purpose: schemas arrive from workers as JSON text.
 */
export type JsonSchema = { readonly [keyword: string]: unknown } | boolean;

// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose `default`
// property holds the plugin. Node, jest and tsc agree on that shape, so `.default` is enough.
const addFormats = addFormatsModule.default;

/**
 * Compiled validators by canonical schema text, least recently used first. Invariant: one entry
 * per distinct schema content, so equal schemas declared by many capabilities (or re-declared by
 * every worker that registers) are compiled once per process. Bounded, because schemas arrive from
 * workers: a capability keeps its own validators, so an evicted entry costs only a recompilation.
 */
const compiled = new Map<string, ValidateFunction>();
/** Most distinct schemas kept compiled. */
export const SCHEMA_CACHE_MAX = 512;

let sharedAjv: Ajv | undefined;

function ajv(): Ajv {
  // Created on first use so that importing the package costs nothing until a schema is compiled.
  if (sharedAjv === undefined) {
    // allErrors: report every broken rule at once. strict: false: schemas come from workers and
    // may carry annotations ajv does not know; they are ignored rather than refused.
    sharedAjv = new Ajv({ allErrors: true, strict: false });
    addFormats(sharedAjv);
    sharedAjv.removeKeyword('maxLength').removeKeyword('minLength').addKeyword(STRING_LENGTH_KEYWORDS);
  }
  return sharedAjv;
}

/**
 * Returns the validator for `schema`, compiling it on first sight of its content.
 *
 * @throws Error - ajv's own error when it cannot compile the schema (invalid keyword value,
 *   unresolvable `$ref`, unknown format, ...); the definition check turns it into an issue.
 */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  const key = canonicalJson(schema);
  const cached = compiled.get(key);
  if (cached !== undefined) {
    compiled.delete(key);
    compiled.set(key, cached);
    return cached;
  }
  const instance = ajv();
  try {
    const validate = instance.compile(schema as Parameters<Ajv['compile']>[0]);
    compiled.set(key, validate);
    if (compiled.size > SCHEMA_CACHE_MAX) compiled.delete(compiled.keys().next().value as string);
    return validate;
  } finally {
    // ajv also keeps the schema under its `$id` (even when compiling failed); dropping it lets a
    // later schema with the same `$id` but other content compile, to be reported as a catalog
    // mismatch rather than an id clash. The compiled function does not need the registration.
    if (typeof schema === 'object') instance.removeSchema(schema as Parameters<Ajv['removeSchema']>[0]);
  }
}

/**
 * How many distinct schemas this process has compiled. A test seam: it shows that capabilities
 * sharing a schema share one compiled validator.
 */
export function schemaCacheSize(): number {
  return compiled.size;
}
