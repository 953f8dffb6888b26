import { HANDLER_IMPLICIT_CODES, type Capability } from '@crank/capabilities';
import { generate, type JsonSchema } from 'json-schema-faker';
import { answerProblem, callOnce, preview, type Run } from './case-runner.js';
import { codeOf, failed, messageOf, passed, skipped, type ConformanceResult } from './conformance-result.js';

/** Name of the built-in case that sends an input generated from the input schema. */
export const GENERATED_CASE = 'an input generated from the input schema is answered with a valid output';

/** Generator settings tried in turn: short required-only values first, then anything goes. */
const ATTEMPTS: readonly Record<string, unknown>[] = [
  { optionalsProbability: 0, maxLength: 32, maxItems: 3 },
  { optionalsProbability: 0 },
  { optionalsProbability: 0.5, maxItems: 3 },
  {},
];
const SEEDS_PER_ATTEMPT = 3;

/**
 * An input the capability's own validator accepts, made by json-schema-faker from its input
 * schema (seeded, so the same schema gives the same input on every run). Required fields only
 * when that suffices, so that knobs such as a delay or a failure switch are left out.
 *
 * @returns undefined when no generated value passes the schema (patterns the generator cannot
 *   meet, `not`, ...): give the input yourself then
 */
export async function generateValidInput(capability: Capability): Promise<{ input: unknown } | undefined> {
  const schema = capability.definition.inputSchema as JsonSchema;
  for (const options of ATTEMPTS) {
    for (let seed = 1; seed <= SEEDS_PER_ATTEMPT; seed++) {
      let input: unknown;
      try {
        input = await generate(schema, { ...options, seed, validateSchemaVersion: false });
      } catch {
        break;
      }
      if (capability.validateInput(input).length === 0) return { input };
    }
  }
  return undefined;
}

/**
 * Sends the generated input. It passes when the answer comes from the worker under test with a
 * valid output, or when the call fails with a code the capability declares on purpose (a valid
 * input may still be one the handler refuses, e.g. a document that is not a PDF); a failure with
 * an undeclared code, INTERNAL, or a broken output fails it.
 */
export async function runGeneratedCase(
  run: Run,
  generated: { input: unknown } | undefined,
): Promise<ConformanceResult> {
  if (!generated) {
    return skipped(
      GENERATED_CASE,
      'no generated value passes the input schema; give a valid input as a case (or --input on the command line)',
    );
  }
  const streamsIn = run.capability.streaming === 'input' || run.capability.streaming === 'bidi';
  const sent = `sent ${preview(generated.input)}`;
  try {
    const answer = await callOnce(run, streamsIn ? [generated.input] : generated.input);
    const problem = answerProblem(run, answer);
    return problem
      ? failed(GENERATED_CASE, `${problem} (${sent})`, answer.workerId)
      : passed(GENERATED_CASE, answer.workerId, sent);
  } catch (error) {
    const code = codeOf(error);
    const declared = (run.capability.definition.errorCodes as readonly string[]).includes(code);
    if (declared && !(HANDLER_IMPLICIT_CODES as readonly string[]).includes(code)) {
      return passed(
        GENERATED_CASE,
        undefined,
        `answered with the declared error ${code}: ${messageOf(error)} (${sent})`,
      );
    }
    return failed(GENERATED_CASE, `call failed with ${code}: ${messageOf(error)} (${sent})`);
  }
}
