import type { ValidateFunction } from 'ajv';
import type { CapabilityDefinition } from './capability-definition.js';
import { ContractViolationError, InvalidInputError } from './errors.js';
import { compileSchema } from './schema-compiler.js';
import { formatIssues, issuesFromAjv, type SchemaIssue } from './schema-issue.js';
import { satisfiesRange } from './version-range.js';

/**
 * Set once by the class's static block: the only way to reach the private constructor from
 * outside the class body, so that every Capability has passed the definition checks.
 */
let construct: (definition: CapabilityDefinition) => Capability;

/**
 * A checked capability definition with its schemas compiled. Get one from `defineCapability`
 * (definitions in code) or `parseCapabilityDefinition` (definitions from the wire).
 *
 * @typeParam TInput - the payload type the input schema describes; `assertInput` returns it
 * @typeParam TOutput - the payload type the output schema describes; `assertOutput` returns it
 */
export class Capability<TInput = unknown, TOutput = unknown> {
  static {
    construct = (definition) => new Capability(definition);
  }

  /** The checked, frozen definition. */
  readonly definition: CapabilityDefinition;
  /** `id@version`, e.g. `classify.email@1.0.0`: unique per capability version. */
  readonly key: string;
  // Shared with every capability whose schema has the same content (see schema-compiler.ts).
  readonly #validateInput: ValidateFunction;
  readonly #validateOutput: ValidateFunction;

  private constructor(definition: CapabilityDefinition) {
    this.definition = definition;
    this.key = `${definition.id}@${definition.version}`;
    this.#validateInput = compileSchema(definition.inputSchema);
    this.#validateOutput = compileSchema(definition.outputSchema);
  }

  /** The capability id, e.g. `classify.email`. */
  get id(): string {
    return this.definition.id;
  }

  /** The definition's semver version, e.g. `1.0.0`. */
  get version(): string {
    return this.definition.version;
  }

  /** Every way `value` breaks the input schema; empty when it is valid. */
  validateInput(value: unknown): SchemaIssue[] {
    return this.#validateInput(value) ? [] : issuesFromAjv(this.#validateInput.errors);
  }

  /**
   * Returns `value`, typed, when it satisfies the input schema.
   *
   * @throws InvalidInputError - naming each JSON path and rule, e.g. `input /message: must be string`
   */
  assertInput(value: unknown): TInput {
    const issues = this.validateInput(value);
    if (issues.length > 0) {
      throw new InvalidInputError(`invalid input for ${this.key}: ${formatIssues('input', issues)}`, issues, {
        details: { capability: this.key },
      });
    }
    return value as TInput;
  }

  /** Every way `value` breaks the output schema; empty when it is valid. */
  validateOutput(value: unknown): SchemaIssue[] {
    return this.#validateOutput(value) ? [] : issuesFromAjv(this.#validateOutput.errors);
  }

  /**
   * Returns `value`, typed, when it satisfies the output schema.
   *
   * @throws ContractViolationError - when the worker's output breaks the schema, naming each path
   */
  assertOutput(value: unknown): TOutput {
    const issues = this.validateOutput(value);
    if (issues.length > 0) {
      throw new ContractViolationError(
        `output of ${this.key} breaks its schema: ${formatIssues('output', issues)}`,
        issues,
        { details: { capability: this.key } },
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
export function instantiateCapability<TInput = unknown, TOutput = unknown>(
  definition: CapabilityDefinition,
): Capability<TInput, TOutput> {
  return construct(definition) as Capability<TInput, TOutput>;
}
