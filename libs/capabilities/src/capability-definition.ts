import { instantiateCapability, type Capability } from './capability.js';
import { DEFINITION_FIELDS, RESOURCE_FIELDS, checkDefinitionShape } from './definition-shape.js';
import { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.js';
import { InvalidCapabilityError, type DefinitionIssue } from './errors.js';
import { findNonJson, frozenJsonCopy } from './json-value.js';
import { compileSchema, type JsonSchema } from './schema-compiler.js';
import type { StreamingMode } from './streaming-mode.js';

/** `resources.maxConcurrency` when a definition leaves it out. */
export const DEFAULT_MAX_CONCURRENCY = 4;

/** What one worker process needs to serve a capability, as its author writes it. */
export interface CapabilityResourcesInit {
  /** Whether the capability runs on a GPU. @defaultValue false */
  gpu?: boolean;
  /** Calls one worker serves at once (an integer, at least 1). @defaultValue 4 */
  maxConcurrency?: number;
  /** Memory one worker needs for the capability, in MiB (an integer, at least 1). No default. */
  memoryMb?: number;
}

/**
 * A capability definition as its author writes it (DESIGN.md section 3).
 *
 * @typeParam TMode - the streaming mode; a streaming capability must name it in `streaming`
 */
export type CapabilityDefinitionInit<TMode extends StreamingMode = StreamingMode> =
  CapabilityDefinitionFields & ('none' extends TMode ? { streaming?: TMode } : { streaming: TMode });

/** The fields of {@link CapabilityDefinitionInit} other than `streaming`. */
export interface CapabilityDefinitionFields {
  /** `verb.noun` (or `verb.noun.variant`): lower-case segments of `[a-z][a-z0-9-]*`, e.g. `classify.email`. */
  id: string;
  /** The definition's semver version, e.g. `1.0.0`. */
  version: string;
  /** What the capability does, for people. @defaultValue '' */
  description?: string;
  /** JSON Schema (draft-07) every input payload must satisfy. */
  inputSchema: JsonSchema;
  /** JSON Schema (draft-07) every output payload must satisfy. */
  outputSchema: JsonSchema;
  /**
   * Contract codes the handler may fail with on purpose. A handler failing with a code not listed
   * here (and not one of {@link HANDLER_IMPLICIT_CODES}) is a contract violation. @defaultValue []
   */
  errorCodes?: readonly ErrorCode[];
  /**
   * Media types besides JSON the capability takes as input, as raw bytes (`application/pdf`,
   * `image/*`). JSON input is always taken and checked against `inputSchema`; any other type is
   * refused with UNSUPPORTED_FORMAT (HTTP 415) before it reaches a worker. @defaultValue []
   */
  inputMediaTypes?: readonly string[];
  /** @defaultValue `{ gpu: false, maxConcurrency: 4 }` */
  resources?: CapabilityResourcesInit;
  /** Whether a call may run twice without a different outcome; lets the router retry accepted calls. @defaultValue false */
  idempotent?: boolean;
}

/** {@link CapabilityResourcesInit} with defaults filled. */
export interface CapabilityResources {
  readonly gpu: boolean;
  readonly maxConcurrency: number;
  /** Absent when the author gave none. */
  readonly memoryMb?: number;
}

/** A checked capability definition: every default filled, deeply frozen. */
export interface CapabilityDefinition {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  readonly errorCodes: readonly ErrorCode[];
  readonly streaming: StreamingMode;
  readonly resources: CapabilityResources;
  readonly idempotent: boolean;
  readonly inputMediaTypes: readonly string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fields the definition has but the contract does not know; a typo here would otherwise vanish. */
function unknownFieldIssues(raw: Record<string, unknown>): DefinitionIssue[] {
  const known: readonly string[] = DEFINITION_FIELDS;
  const issues = Object.keys(raw)
    .filter((key) => !known.includes(key))
    .map((key) => ({
      field: key,
      rule: 'knownField',
      message: `is not a definition field (known: ${known.join(', ')})`,
    }));
  const resources = raw['resources'];
  if (isRecord(resources)) {
    const knownResources: readonly string[] = RESOURCE_FIELDS;
    for (const key of Object.keys(resources).filter((k) => !knownResources.includes(k))) {
      issues.push({
        field: `resources.${key}`,
        rule: 'knownField',
        message: `is not a resources field (known: ${knownResources.join(', ')})`,
      });
    }
  }
  return issues;
}

function errorCodeIssues(codes: readonly unknown[]): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const seen = new Set<unknown>();
  codes.forEach((code, index) => {
    if (!isErrorCode(code)) {
      issues.push({
        field: `errorCodes[${index}]`,
        rule: 'knownErrorCode',
        message: `unknown error code ${JSON.stringify(code) ?? String(code)}; known codes: ${ERROR_CODES.join(', ')}`,
      });
    } else if (seen.has(code)) {
      issues.push({ field: `errorCodes[${index}]`, rule: 'unique', message: `repeats "${code}"` });
    }
    seen.add(code);
  });
  return issues;
}

function schemaIssue(
  field: 'inputSchema' | 'outputSchema',
  schema: JsonSchema,
  compile: boolean,
): DefinitionIssue | undefined {
  const nonJson = findNonJson(schema);
  if (nonJson !== undefined) return { field, rule: 'json', message: `must be plain JSON: ${nonJson}` };
  if (!compile) return undefined;
  try {
    compileSchema(schema);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { field, rule: 'compilable', message: `ajv cannot compile it: ${reason}` };
  }
}

function definitionLabel(raw: Record<string, unknown>): string {
  const { id, version } = raw;
  if (typeof id !== 'string') return '';
  return typeof version === 'string' ? ` "${id}@${version}"` : ` "${id}"`;
}

function refuse(label: string, issues: readonly DefinitionIssue[]): never {
  const listed = issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  throw new InvalidCapabilityError(`invalid capability definition${label}: ${listed}`, issues);
}

/**
 * Checks a definition and fills its defaults. The pure core of {@link defineCapability} and
 * {@link parseCapabilityDefinition}.
 *
 * @throws InvalidCapabilityError - listing every broken field
 */
export function compileCapabilityDefinition(
  raw: unknown,
  { compileSchemas = true }: { compileSchemas?: boolean } = {},
): CapabilityDefinition {
  if (!isRecord(raw)) {
    refuse('', [
      {
        field: 'definition',
        rule: 'object',
        message: `must be an object (got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw})`,
      },
    ]);
  }
  const issues = unknownFieldIssues(raw);
  // Only known fields reach class-transformer, so a `__proto__` key from JSON.parse stays inert.
  const known = Object.fromEntries(
    DEFINITION_FIELDS.filter((key) => Object.hasOwn(raw, key)).map((key) => [key, raw[key]]),
  );
  const shapeIssues = checkDefinitionShape(known);
  issues.push(...shapeIssues);
  const failed = new Set(shapeIssues.map((issue) => issue.field));
  if (Array.isArray(raw['errorCodes'])) issues.push(...errorCodeIssues(raw['errorCodes']));
  for (const field of ['inputSchema', 'outputSchema'] as const) {
    if (failed.has(field)) continue;
    const issue = schemaIssue(field, raw[field] as JsonSchema, compileSchemas);
    if (issue !== undefined) issues.push(issue);
  }
  if (issues.length > 0) {
    const order = (issue: DefinitionIssue): number => {
      const top = issue.field.split(/[.[]/)[0] ?? '';
      const index = (DEFINITION_FIELDS as readonly string[]).indexOf(top);
      return index === -1 ? DEFINITION_FIELDS.length : index;
    };
    refuse(
      definitionLabel(raw),
      [...issues].sort((a, b) => order(a) - order(b)),
    );
  }

  const init = raw as unknown as CapabilityDefinitionFields & { streaming?: StreamingMode };
  const resources = init.resources ?? {};
  return Object.freeze({
    id: init.id,
    version: init.version,
    description: init.description ?? '',
    inputSchema: frozenJsonCopy(init.inputSchema),
    outputSchema: frozenJsonCopy(init.outputSchema),
    errorCodes: Object.freeze([...(init.errorCodes ?? [])]),
    streaming: init.streaming ?? 'none',
    resources: Object.freeze({
      gpu: resources.gpu ?? false,
      maxConcurrency: resources.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
      // `!= null`: JSON from the wire may say `null` for "not given".
      ...(resources.memoryMb != null ? { memoryMb: resources.memoryMb } : {}),
    }),
    idempotent: init.idempotent ?? false,
    inputMediaTypes: Object.freeze([...new Set(init.inputMediaTypes ?? [])]),
  });
}

/**
 * Checks a capability definition written in code, fills its defaults and compiles its schemas.
 *
 * @typeParam TInput - the input payload type the input schema describes (not checked by the
 *   compiler); a capability that takes raw bytes includes `Buffer`
 * @typeParam TOutput - the output payload type the output schema describes
 * @typeParam TMode - the streaming mode, which decides the handler's shape; name it when the
 *   capability streams: `defineCapability<In, Out, 'bidi'>({ ..., streaming: 'bidi' })`
 * @throws InvalidCapabilityError - whose message lists every broken field as `field: rule`, e.g.
 *   `version: must be a semver version (got "1.x"); inputSchema: is required`
 */
export function defineCapability<TInput = unknown, TOutput = unknown, TMode extends StreamingMode = 'none'>(
  init: CapabilityDefinitionInit<TMode>,
): Capability<TInput, TOutput, TMode> {
  return instantiateCapability<TInput, TOutput, TMode>(compileCapabilityDefinition(init));
}

/**
 * {@link defineCapability} for the built-in catalog: every check but compiling the schemas, which
 * waits for the first validation. Importing the catalog then costs no compilation (the catalog's
 * tests compile every entry). Package-internal.
 */
export function defineBuiltinCapability<
  TInput = unknown,
  TOutput = unknown,
  TMode extends StreamingMode = 'none',
>(init: CapabilityDefinitionInit<TMode>): Capability<TInput, TOutput, TMode> {
  return instantiateCapability<TInput, TOutput, TMode>(
    compileCapabilityDefinition(init, { compileSchemas: false }),
  );
}

/**
 * Checks a capability definition that arrived from another process, as JSON text or as the value
 * `JSON.parse` made of it. Same rules as {@link defineCapability}; unknown fields are refused.
 *
 * @throws InvalidCapabilityError - listing every broken field
 */
export function parseCapabilityDefinition(json: unknown): Capability {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (error) {
      refuse('', [
        { field: 'definition', rule: 'json', message: `must be JSON text (${(error as Error).message})` },
      ]);
    }
  }
  return instantiateCapability(compileCapabilityDefinition(value));
}
