import type { Capability } from '@crank/capabilities';

/** An input that breaks a capability's input schema, and how (the validator's first issue). */
export interface SchemaBreakingInput {
  input: unknown;
  /** e.g. `/text: must be string`. */
  issue: string;
}

/** Values of every JSON type, to put where the schema wants another one. */
const ANY_TYPE: readonly unknown[] = [42, 'crank-conformance', true, null, [], {}];
const UNKNOWN_FIELD = 'crank-conformance-unknown-field';

/**
 * Finds an input the capability's own validator refuses, so that "schema-invalid input is
 * refused" is never checked with an input the schema in fact allows. Tries, in order: each
 * sample (valid inputs of the author's cases) with one required field left out or one property of
 * the wrong type, a sample with an unknown field, then whole values of each JSON type. Each
 * candidate is confirmed with `capability.validateInput`.
 *
 * @returns undefined when the schema accepts every candidate (`true`, `{}`, or close to it)
 */
export function findSchemaBreakingInput(
  capability: Capability,
  samples: readonly unknown[],
): SchemaBreakingInput | undefined {
  for (const candidate of candidates(capability, samples)) {
    const issues = capability.validateInput(candidate);
    const first = issues[0];
    if (first) return { input: candidate, issue: `${first.path || '/'}: ${first.message}` };
  }
  return undefined;
}

function* candidates(capability: Capability, samples: readonly unknown[]): Generator<unknown> {
  const schema = capability.definition.inputSchema;
  const shape = typeof schema === 'object' ? (schema as ObjectSchema) : {};
  const required = Array.isArray(shape.required) ? shape.required.map(String) : [];
  const properties = isRecord(shape.properties) ? Object.keys(shape.properties) : [];
  const objects = samples.filter(isRecord);
  for (const sample of objects) {
    for (const key of required) {
      const { [key]: _dropped, ...rest } = sample;
      yield rest;
    }
    for (const key of new Set([...required, ...properties, ...Object.keys(sample)])) {
      for (const wrong of ANY_TYPE) yield { ...sample, [key]: wrong };
    }
    yield { ...sample, [UNKNOWN_FIELD]: [] };
  }
  yield { [UNKNOWN_FIELD]: [] };
  yield* ANY_TYPE;
}

interface ObjectSchema {
  required?: unknown;
  properties?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
