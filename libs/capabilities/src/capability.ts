import type { ValidateFunction } from 'ajv';
import type { CapabilityDefinition } from './capability-definition.js';
import { HANDLER_IMPLICIT_CODES, WORKER_RUNTIME_CODES, type ErrorCode } from './error-codes.js';
import { ContractViolationError, InvalidInputError } from './errors.js';
import type { StreamingMode } from './streaming-mode.js';
import { compileSchema } from './schema-compiler.js';
import { formatIssues, issuesFromAjv, type SchemaIssue } from './schema-issue.js';
import { satisfiesRange } from './version-range.js';

/**
 * Set once by the class's static block: the only way to reach the private constructor from
 * outside the class body, so that every Capability has passed the definition checks.
 */
let construct: (definition: CapabilityDefinition) => Capability<unknown, unknown, StreamingMode>;

/**
 * A checked capability definition with its schemas compiled. Get one from `defineCapability`
 * (definitions in code) or `parseCapabilityDefinition` (definitions from the wire).
 *
 * @typeParam TInput - the payload type the input schema describes; `assertInput` returns it
 * @typeParam TOutput - the payload type the output schema describes; `assertOutput` returns it
 * @typeParam TMode - the streaming mode (`definition.streaming`), which decides the handler's shape
 */
export class Capability<TInput = unknown, TOutput = unknown, TMode extends StreamingMode = StreamingMode> {
  static {
    construct = (definition) => new Capability(definition);
  }

  /** The checked, frozen definition. */
  readonly definition: CapabilityDefinition & { readonly streaming: TMode };
  /** `id@version`, e.g. `classify.email@1.0.0`: unique per capability version. */
  readonly key: string;
  // Shared with every capability whose schema has the same content (see schema-compiler.ts), and
  // compiled on first use: a process that loads the catalog validates a handful of its entries.
  #validateInput: ValidateFunction | undefined;
  #validateOutput: ValidateFunction | undefined;

  private constructor(definition: CapabilityDefinition) {
    this.definition = definition as CapabilityDefinition & { readonly streaming: TMode };
    this.key = `${definition.id}@${definition.version}`;
  }

  get #input(): ValidateFunction {
    return (this.#validateInput ??= compileSchema(this.definition.inputSchema));
  }

  get #output(): ValidateFunction {
    return (this.#validateOutput ??= compileSchema(this.definition.outputSchema));
  }

  /** The capability id, e.g. `classify.email`. */
  get id(): string {
    return this.definition.id;
  }

  /** The definition's semver version, e.g. `1.0.0`. */
  get version(): string {
    return this.definition.version;
  }

  /** The streaming mode. */
  get streaming(): TMode {
    return this.definition.streaming;
  }

  /**
   * Whether an input of this media type is taken: JSON always (checked against the input schema),
   * other types only when listed in `inputMediaTypes` (`type/*` matches any subtype). Parameters
   * (`; charset=...`) are ignored.
   */
  acceptsMediaType(contentType: string): boolean {
    if (contentType === JSON_MEDIA_TYPE || contentType === '') return true;
    const type = mediaTypeOf(contentType);
    if (isJsonMediaType(type)) return true;
    for (const accepted of this.definition.inputMediaTypes) {
      if (accepted === type) return true;
      if (accepted.endsWith('/*') && type.startsWith(accepted.slice(0, -1))) return true;
    }
    return false;
  }

  /**
   * Whether a failure with `code` keeps the contract. `handler`: what a handler may throw, the
   * declared `errorCodes` plus {@link HANDLER_IMPLICIT_CODES}; `worker`: what a worker may answer,
   * which adds the codes its runtime produces itself ({@link WORKER_RUNTIME_CODES}).
   */
  mayFailWith(code: ErrorCode, source: 'handler' | 'worker'): boolean {
    return (
      this.definition.errorCodes.includes(code) ||
      HANDLER_IMPLICIT_CODES.includes(code) ||
      (source === 'worker' && WORKER_RUNTIME_CODES.includes(code))
    );
  }

  /** Every way `value` breaks the input schema; empty when it is valid. */
  validateInput(value: unknown): SchemaIssue[] {
    return this.#input(value) ? [] : issuesFromAjv(this.#input.errors);
  }

  /**
   * Returns `value`, typed, when it satisfies the input schema.
   *
   * @throws InvalidInputError - naming each JSON path and rule, e.g. `input /message: must be string`
   */
  assertInput(value: unknown): TInput {
    if (this.#input(value)) return value as TInput;
    const issues = this.validateInput(value);
    if (issues.length > 0) {
      throw new InvalidInputError(`invalid input for ${this.key}: ${formatIssues('input', issues)}`, issues, {
        details: { capability: this.id, version: this.version },
      });
    }
    return value as TInput;
  }

  /** Every way `value` breaks the output schema; empty when it is valid. */
  validateOutput(value: unknown): SchemaIssue[] {
    return this.#output(value) ? [] : issuesFromAjv(this.#output.errors);
  }

  /**
   * Returns `value`, typed, when it satisfies the output schema.
   *
   * @throws ContractViolationError - when the worker's output breaks the schema, naming each path
   */
  assertOutput(value: unknown): TOutput {
    if (this.#output(value)) return value as TOutput;
    const issues = this.validateOutput(value);
    if (issues.length > 0) {
      throw new ContractViolationError(
        `output of ${this.key} breaks its schema: ${formatIssues('output', issues)}`,
        issues,
        { details: { capability: this.id, version: this.version } },
      );
    }
    return value as TOutput;
  }

  /**
   * Whether this capability's version satisfies a semver `range` (empty or `*`: any release).
   *
   * @throws InvalidInputError - when `range` is not a valid semver range
   */
  satisfies(range: string): boolean {
    return satisfiesRange(this.version, range);
  }

  /** The definition, so that `JSON.stringify(capability)` gives the wire form. */
  toJSON(): CapabilityDefinition {
    return this.definition;
  }

  /** The {@link Capability.key}. */
  toString(): string {
    return this.key;
  }
}

/**
 * Wraps a definition that has passed the checks. Package-internal (not exported from the index):
 * callers go through `defineCapability` or `parseCapabilityDefinition`.
 */
export function instantiateCapability<
  TInput = unknown,
  TOutput = unknown,
  TMode extends StreamingMode = StreamingMode,
>(definition: CapabilityDefinition): Capability<TInput, TOutput, TMode> {
  return construct(definition) as unknown as Capability<TInput, TOutput, TMode>;
}

const JSON_MEDIA_TYPE = 'application/json';

/** The media type of a Content-Type value, lower case, without parameters; '' stands for JSON. */
export function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** Whether a media type is JSON: `application/json`, `application/*+json`, or '' (the default). */
export function isJsonMediaType(mediaType: string): boolean {
  // The common case, without the allocations of parsing it.
  if (mediaType === JSON_MEDIA_TYPE || mediaType === '') return true;
  const type = mediaTypeOf(mediaType);
  return (
    type === '' || type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
  );
}
